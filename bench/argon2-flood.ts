/**
 * ABU-05 figure: does a flood of password sign-ins starve the token endpoint? Starts the real app in its
 * own process at the production argon2 cost, measures client_credentials token latency alone, then again
 * while 100 wrong-password sign-ins at a time hit the login form (each from its own X-Forwarded-For, so the
 * per-IP limits do not step in), first with the hashing slots as configured (ARGON2_MAX_CONCURRENT default)
 * then with two slots, and then with them effectively off (256), in the same run. Prints p50/p95 and the flood/solo p95 ratio
 * (target: at most 2 with the slots), and how the sign-ins fared (refused as busy with 503 + Retry-After
 * once the queue wait ran out). A figure to read, not a timed test.
 *
 *   npm run bench:flood            (SECONDS=8 of flood per run by default)
 */
import { loadConfig } from '../src/config/load.ts';
import { TEST_ENV } from '../test/support/app.ts';
import { spawnServer } from './support/spawn-server.ts';
import { UserAgent } from '../test/support/browserless.ts';
import { authorizationUrl, WEB_SECRET } from '../test/support/fixtures.ts';
import { openLoginPage, type LoginPage } from '../test/support/forms.ts';

const seconds = Number(process.env.SECONDS ?? 8);
const CONCURRENT = 100;
const basic = `Basic ${Buffer.from(`service:${WEB_SECRET}`).toString('base64')}`;
const percentile = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * p))] ?? NaN;

async function tokenLatencies(issuer: string, untilMs: number): Promise<number[]> {
  const times: number[] = [];
  while (Date.now() < untilMs) {
    const started = process.hrtime.bigint();
    const response = await fetch(`${issuer}/token`, { method: 'POST', headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' });
    await response.arrayBuffer();
    if (response.status !== 200) throw new Error(`token endpoint answered ${response.status}`);
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  return times;
}

/** One attacker slot: fetch a login page, post a wrong password from a fresh address, again, until the end. */
async function attacker(issuer: string, index: number, untilMs: number, outcomes: Map<number, number>): Promise<void> {
  for (let round = 0; Date.now() < untilMs; round += 1) {
    const ua = new UserAgent();
    let page: LoginPage;
    try {
      page = await openLoginPage(ua, issuer, authorizationUrl(issuer, 'web'));
    } catch {
      continue;
    }
    const address = `10.${index % 250}.${Math.floor(round / 250) % 250}.${round % 250}`;
    const response = await ua.request(page.login.action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': address },
      body: new URLSearchParams({ ...page.login.hidden, email: `nobody-${index}-${round}@example.com`, password: 'a wrong password' }).toString(),
    });
    await response.arrayBuffer();
    outcomes.set(response.status, (outcomes.get(response.status) ?? 0) + 1);
  }
}

async function run(label: string, env: Record<string, string>) {
  const server = await spawnServer({ ARGON2_MEMORY_KIB: '19456', ARGON2_TIME_COST: '2', ...env });
  try {
    await tokenLatencies(server.issuer, Date.now() + 1000); // warm-up
    const solo = await tokenLatencies(server.issuer, Date.now() + seconds * 1000);
    const until = Date.now() + seconds * 1000;
    const outcomes = new Map<number, number>();
    const flood = Array.from({ length: CONCURRENT }, (_, index) => attacker(server.issuer, index, until, outcomes));
    const loaded = await tokenLatencies(server.issuer, until);
    await Promise.all(flood);
    const ratio = percentile(loaded, 0.95) / percentile(solo, 0.95);
    const signIns = [...outcomes].sort().map(([status, count]) => `${count}×${status}`).join(', ');
    console.log(`| ${label} | ${percentile(solo, 0.5).toFixed(1)} / ${percentile(solo, 0.95).toFixed(1)} | ${percentile(loaded, 0.5).toFixed(1)} / ${percentile(loaded, 0.95).toFixed(1)} | ${ratio.toFixed(2)} | ${signIns} |`);
  } finally {
    server.stop();
  }
}

console.log(`Token endpoint under a flood of ${CONCURRENT} concurrent wrong-password sign-ins, ${seconds} s each (ms, p50 / p95)`);
console.log('| hashing slots | token alone | token during the flood | p95 ratio (target ≤ 2 with slots) | sign-ins (count×status) |');
console.log('| --- | --- | --- | --- | --- |');
await run(`default (ARGON2_MAX_CONCURRENT unset: ${loadConfig({ ...TEST_ENV, DATA_DIR: 'memory://' }).hashing.maxConcurrent} here)`, {});
await run('two slots (ARGON2_MAX_CONCURRENT=2)', { ARGON2_MAX_CONCURRENT: '2' });
await run('off (ARGON2_MAX_CONCURRENT=256)', { ARGON2_MAX_CONCURRENT: '256' });
