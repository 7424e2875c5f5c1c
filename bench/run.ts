/**
 * Issue 13: `npm run bench`. Gatehouse in production mode, built and run as its container image runs it
 * (`node dist/src/main.js`), and a bare oidc-provider (bench/baseline, run from TypeScript), each
 * in its own process on the same Postgres and Redis, measured in the same run so every figure is a ratio
 * to the baseline on this (noisy, shared) machine: the token endpoint (client_credentials JWT and
 * opaque, refresh_token), introspection, userinfo, discovery and JWKS under autocannon; a browser-less
 * password sign-in (code + PKCE, production argon2 cost, consent remembered) at concurrency 1, 4 and 16;
 * the raw argon2id rate and CPU on the same cores; server CPU per sign-in, RSS and start-to-ready time.
 * Prints one Markdown table and the issue's targets (holds / misses), writes bench/results/<time>.json
 * and bench/results/latest.md. Loopback only, about three minutes. A figure to read, not a test.
 *
 *   npm run bench                      (DATABASE_URL / REDIS_URL default to the loopback servers)
 *   BENCH_SECONDS=4 BENCH_SIGN_IN_SECONDS=8   seconds per endpoint and per sign-in run
 *   BENCH_CPU_PROF=dir                 also writes --cpu-prof profiles of both servers, under dir/<name>/
 *   BENCH_GATEHOUSE_ENV='{"ARGON2_MAX_CONCURRENT":"1"}'   settings added to Gatehouse's environment (to compare configurations)
 *   BENCH_ONLY='JWKS|userinfo'         only these endpoints, and no sign-ins unless "sign-in" is listed
 *                                      (for profiling one thing; the targets then judge only what ran)
 */
import './support/local-stores.ts';
import { spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { UserAgent } from '../test/support/browserless.ts';
import { measureArgon2Floor } from './support/argon2-floor.ts';
import { API_SCOPE, APIS, BENCH_USERS, SERVICE, WEB } from './support/bench-fixtures.ts';
import { startChildServer, type ChildServer } from './support/child-server.ts';
import { loadEndpoint, type EndpointRequest, type EndpointResult } from './support/endpoint-load.ts';
import { provision } from './support/provision.ts';
import { machine, markdown, percentile, type BenchResult, type ServerFigures, type SignInFigures } from './support/report.ts';
import { basicAuth, returningUsers, signIn, signInLoad, type Browser, type SignInTarget } from './support/sign-in-driver.ts';

const ENDPOINT_SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const SIGN_IN_SECONDS = Number(process.env.BENCH_SIGN_IN_SECONDS ?? 8);
const ONLY = process.env.BENCH_ONLY?.split('|').map((name) => name.trim());
const CONCURRENCIES = !ONLY || ONLY.includes('sign-in') ? [1, 4, 16] : [];
const NAMES = ['baseline', 'gatehouse'] as const;
type Name = (typeof NAMES)[number];

interface Subject {
  name: Name;
  server: ChildServer;
  target: SignInTarget;
  requests: Record<string, EndpointRequest>;
  figures: ServerFigures;
}

/** The fixed requests autocannon repeats, with this server's endpoint paths and a user's tokens from it. */
async function endpointRequests(target: SignInTarget): Promise<Record<string, EndpointRequest>> {
  const discovery = (await (await fetch(`${target.issuer}/.well-known/openid-configuration`)).json()) as Record<string, string>;
  const path = (key: string) => new URL(discovery[key]!).pathname;
  const tokens = await signIn({ ua: new UserAgent(), user: BENCH_USERS[0]! }, target, { scope: 'openid email offline_access', prompt: 'consent' });
  if (!tokens.refresh_token) throw new Error(`${target.issuer} issued no refresh token`);
  const web = { authorization: basicAuth(WEB.id, WEB.secret) };
  const service = { authorization: basicAuth(SERVICE.id, SERVICE.secret) };
  const introspection: EndpointRequest = { path: path('introspection_endpoint'), method: 'POST', headers: web, form: { token: tokens.access_token } };
  const described = await fetch(`${target.issuer}${introspection.path}`, { method: 'POST', headers: { ...web, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(introspection.form) });
  if (!((await described.json()) as { active?: boolean }).active) throw new Error(`${target.issuer}: introspection does not describe the user's token`);
  return {
    'client_credentials, JWT': { path: path('token_endpoint'), method: 'POST', headers: service, form: { grant_type: 'client_credentials', resource: APIS.jwt.identifier, scope: API_SCOPE } },
    'client_credentials, opaque': { path: path('token_endpoint'), method: 'POST', headers: service, form: { grant_type: 'client_credentials', resource: APIS.opaque.identifier, scope: API_SCOPE } },
    refresh_token: { path: path('token_endpoint'), method: 'POST', headers: web, form: { grant_type: 'refresh_token', refresh_token: tokens.refresh_token } },
    introspection,
    userinfo: { path: path('userinfo_endpoint'), method: 'GET', headers: { authorization: `Bearer ${tokens.access_token}` } },
    discovery: { path: '/.well-known/openid-configuration', method: 'GET' },
    JWKS: { path: path('jwks_uri'), method: 'GET' },
  };
}

/** Both servers, one at a time, the order alternating between measurements so neither always goes first. */
function inTurn(subjects: Subject[], index: number): Subject[] {
  return index % 2 === 0 ? subjects : [...subjects].reverse();
}

/** Runs `work` while sampling the server's RSS; keeps the highest seen as its loaded RSS. */
async function whileSampling<T>(subject: Subject, work: () => Promise<T>): Promise<T> {
  const timer = setInterval(() => (subject.figures.loadedRssMb = Math.max(subject.figures.loadedRssMb, subject.server.rssMb())), 250);
  try {
    return await work();
  } finally {
    clearInterval(timer);
    subject.figures.loadedRssMb = Math.max(subject.figures.loadedRssMb, subject.server.rssMb());
  }
}

async function signInFigures(subject: Subject, browsers: Browser[]): Promise<SignInFigures> {
  const cpuBefore = subject.server.cpuMs();
  const run = await whileSampling(subject, () => signInLoad(subject.target, browsers, SIGN_IN_SECONDS));
  const cpu = subject.server.cpuMs() - cpuBefore;
  if (run.failures > 0) throw new Error(`${subject.name}: ${run.failures} sign-ins failed at c=${run.concurrency}, first: ${run.firstFailure}`);
  const { latencies } = run;
  return {
    concurrency: run.concurrency,
    count: run.count,
    failures: run.failures,
    perSecond: run.count / run.seconds,
    p50: percentile(latencies, 0.5),
    p95: percentile(latencies, 0.95),
    p99: percentile(latencies, 0.99),
    cpuMsPerSignIn: cpu / run.count,
  };
}

const log = (text: string) => process.stderr.write(`bench: ${text}\n`);
const startedAt = new Date();
// Gatehouse runs as its container image runs it (Dockerfile CMD): compiled to dist/, not through Node's
// type stripping, which would add its own memory and start-up time to the figures.
log('building dist/ (npm run build), as the container image does');
const build = spawnSync('npm', ['run', '--silent', 'build'], { stdio: ['ignore', 'ignore', 'inherit'] });
if (build.status !== 0) throw new Error(`npm run build failed (${build.status ?? build.signal})`);
log('provisioning a database, the clients, APIs and user (real CLI) and the signing keys');
const provisioned = await provision();
const subjects: Subject[] = [];
try {
  const profile = (name: Name) => (process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}/${name}`] : []);
  const starts: Record<Name, () => Promise<ChildServer>> = {
    baseline: () => startChildServer('bench/baseline/bare-provider.ts', { BASELINE_SETTINGS: JSON.stringify(provisioned.baseline) }, `${provisioned.baseline.issuer}/.well-known/openid-configuration`, profile('baseline')),
    gatehouse: () => startChildServer('dist/src/main.js', { ...provisioned.gatehouseEnv, ...JSON.parse(process.env.BENCH_GATEHOUSE_ENV ?? '{}') }, `${provisioned.gatehouseEnv.ISSUER}/readyz`, profile('gatehouse')),
  };
  const issuers: Record<Name, string> = { baseline: provisioned.baseline.issuer, gatehouse: provisioned.gatehouseEnv.ISSUER! };
  for (const name of NAMES) {
    const server = await starts[name]();
    log(`${name} ready in ${server.readyMs.toFixed(0)} ms`);
    const target: SignInTarget = { issuer: issuers[name], client: WEB };
    subjects.push({ name, server, target, requests: {}, figures: { readyMs: server.readyMs, idleRssMb: 0, loadedRssMb: 0, endpoints: {}, signIns: [], cpuMsPerSignIn: NaN } });
  }
  await sleep(1000);
  for (const subject of subjects) subject.figures.idleRssMb = subject.server.rssMb();
  for (const subject of subjects) subject.requests = await endpointRequests(subject.target);

  const endpoints = Object.keys(subjects[0]!.requests).filter((name) => !ONLY || ONLY.includes(name));
  for (const [index, endpoint] of endpoints.entries()) {
    for (const subject of inTurn(subjects, index)) {
      const result: EndpointResult = await whileSampling(subject, () => loadEndpoint(subject.target.issuer, subject.requests[endpoint]!, subject.server.cpuMs, ENDPOINT_SECONDS));
      subject.figures.endpoints[endpoint] = result;
      log(`${endpoint}: ${subject.name} ${result.requestsPerSecond.toFixed(0)} req/s, CPU ${(result.cpuMsPerRequest * 1000).toFixed(0)} µs per request`);
    }
  }

  const browsers = new Map<Subject, Browser[]>();
  for (const subject of subjects) browsers.set(subject, await returningUsers(subject.target, BENCH_USERS.slice(0, Math.max(0, ...CONCURRENCIES))));
  for (const [index, concurrency] of CONCURRENCIES.entries()) {
    for (const subject of inTurn(subjects, index)) {
      const figures = await signInFigures(subject, browsers.get(subject)!.slice(0, concurrency));
      subject.figures.signIns[index] = figures;
      log(`sign-in c=${concurrency}: ${subject.name} ${figures.perSecond.toFixed(2)}/s, p50 ${figures.p50.toFixed(0)} ms, p99 ${figures.p99.toFixed(0)} ms, CPU ${figures.cpuMsPerSignIn.toFixed(1)} ms`);
    }
  }
  for (const subject of subjects) {
    const runs = subject.figures.signIns;
    subject.figures.cpuMsPerSignIn = runs.reduce((sum, run) => sum + run.cpuMsPerSignIn * run.count, 0) / runs.reduce((sum, run) => sum + run.count, 0);
  }

  log('raw argon2id verifies on the same cores, both servers idle');
  const cost = provisioned.gatehouseConfig.argon2;
  const argon2 = { ...cost, ...(await measureArgon2Floor(cost, 4)) };

  const [baseline, gatehouse] = subjects.map((subject) => subject.figures) as [ServerFigures, ServerFigures];
  const result: BenchResult = { startedAt: startedAt.toISOString(), machine: machine(), seconds: { endpoint: ENDPOINT_SECONDS, signIn: SIGN_IN_SECONDS }, argon2, baseline, gatehouse };
  const report = markdown(result);
  process.stdout.write(`\n${report}`);
  const results = new URL('./results/', import.meta.url);
  await mkdir(results, { recursive: true });
  // A partial run (BENCH_ONLY, for profiling) or one with changed settings (BENCH_GATEHOUSE_ENV) is kept
  // apart and never replaces the latest whole table of the defaults.
  const partial = ONLY !== undefined || process.env.BENCH_GATEHOUSE_ENV !== undefined;
  const name = `${partial ? 'partial-' : ''}${startedAt.toISOString().replace(/[:.]/g, '-')}.json`;
  await writeFile(new URL(name, results), `${JSON.stringify(result, null, 2)}\n`);
  if (!partial) await writeFile(new URL('latest.md', results), report);
} finally {
  for (const subject of subjects) await subject.server.stop();
  await provisioned.cleanup();
}
