import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { createAccount } from '../../src/accounts/create-account.ts';
import { loadConfig } from '../../src/config/load.ts';
import { createPasswordHasher } from '../../src/security/passwords.ts';
import { upsertClient } from '../../src/storage/postgres/clients.queries.ts';
import { TEST_ENV } from '../support/app.ts';
import { postgresUrl, redisUrl } from '../support/backends.ts';
import { UserAgent } from '../support/browserless.ts';
import { gatehouseOk, withDb } from '../support/cli.ts';
import { REDIRECT_URI, servers } from '../support/e2e.ts';
import { finishSignIn, openLoginPage, rawAuthorization } from '../support/forms.ts';
import { killLeftovers, startGatehouseProcess } from '../support/gatehouse-process.ts';
import { OtlpCollector, SERVER, type ReceivedSpan } from '../support/otlp-collector.ts';

/**
 * Issue 8, traces: with OTEL_EXPORTER_OTLP_ENDPOINT the real process (`node src/main.ts`) sends its spans
 * over OTLP/HTTP to a collector (here a stand-in that keeps the raw JSON): a server span per request named
 * by route template, Postgres and Redis spans inside it, and none of the secrets of a whole sign-in and
 * code exchange anywhere in what left the process (LOG-02 for traces). Without the variable no
 * OpenTelemetry module is loaded at all.
 */
afterEach(killLeftovers);

const PROBE = fileURLToPath(new URL('../support/module-probe.ts', import.meta.url));
const CLIENT_SECRET = `trace-client-secret-${randomBytes(16).toString('hex')}`;

interface Run {
  spans: ReceivedSpan[];
  raw: string;
  contentTypes: string[];
  /** Values that must appear nowhere in the exported payload. */
  secrets: Record<string, string>;
  /** The `traces` field of the ready log line. */
  announced: unknown;
}

/** A client and an account written to the store before the process starts (it holds the embedded store's lock). */
async function seed(env: Record<string, string>, clientId: string, email: string, password: string): Promise<void> {
  await gatehouseOk(['migrate'], env);
  const hasher = await createPasswordHasher(loadConfig(env).argon2);
  await withDb(env, async (db) => {
    await upsertClient(db, clientId, {
      client_id: clientId,
      client_secret: CLIENT_SECRET,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      redirect_uris: [REDIRECT_URI],
      token_endpoint_auth_method: 'client_secret_basic',
      first_party: true,
    });
    await createAccount(db, hasher, { email, password, emailVerified: true });
  });
}

/**
 * Starts the process with tracing to a fresh collector, signs in through the pages, redeems the code,
 * calls userinfo, opens an interaction URL with a query string and an unknown path, stops the process
 * with SIGTERM (which must flush the spans) and returns what the collector received.
 */
async function traceASignIn(storeEnv: Record<string, string>): Promise<Run> {
  const env = { ...TEST_ENV, ...storeEnv };
  const clientId = `rp-${randomBytes(8).toString('hex')}`;
  const email = `trace-${randomBytes(6).toString('hex')}@example.com`;
  const password = `a long password ${randomBytes(8).toString('hex')}`;
  await seed(env, clientId, email, password);
  const collector = await OtlpCollector.start();
  try {
    // LOG_LEVEL info: startGatehouseProcess waits for the ready line.
    const gatehouse = await startGatehouseProcess({ ...env, LOG_LEVEL: 'info', OTEL_EXPORTER_OTLP_ENDPOINT: collector.url });
    const issuer = gatehouse.url;
    expect((await fetch(`${issuer}/.well-known/openid-configuration`)).status).toBe(200);
    expect((await fetch(`${issuer}/healthz`)).status).toBe(200);
    expect((await fetch(`${issuer}/no/such/${randomBytes(6).toString('hex')}`)).status).toBe(404);

    const authorization = rawAuthorization(issuer, { client_id: clientId, redirect_uri: REDIRECT_URI, scope: 'openid email' });
    const authUrl = new URL(authorization.url);
    const ua = new UserAgent();
    const page = await openLoginPage(ua, issuer, authorization.url);
    const landed = await finishSignIn(ua, issuer, page, email, password);
    const code = landed.searchParams.get('code');
    expect(code).toBeTruthy();
    const cookies = [...ua.cookies.values()].filter((value) => value.length >= 16);
    // The interaction is finished: whatever it answers, its uid and this query must not be exported.
    const probe = randomBytes(12).toString('base64url');
    await (await fetch(`${issuer}/interaction/${page.uid}?probe=${probe}`)).text();

    const tokenResponse = await fetch(`${issuer}/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${clientId}:${CLIENT_SECRET}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: code!, redirect_uri: REDIRECT_URI, code_verifier: authorization.verifier }),
    });
    expect(tokenResponse.status).toBe(200);
    const tokens = (await tokenResponse.json()) as { access_token: string; id_token: string };
    expect((await fetch(`${issuer}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } })).status).toBe(200);

    gatehouse.signal('SIGTERM');
    expect((await gatehouse.exited).code).toBe(0);
    const { password_hash: passwordHash } = await withDb(env, (db) =>
      db.selectFrom('accounts').select('password_hash').where('email', '=', email).executeTakeFirstOrThrow(),
    );
    const secrets: Record<string, string> = {
      'interaction uid': page.uid,
      state: authorization.state,
      nonce: authUrl.searchParams.get('nonce')!,
      code_challenge: authUrl.searchParams.get('code_challenge')!,
      code: code!,
      code_verifier: authorization.verifier,
      'query value': probe,
      access_token: tokens.access_token,
      id_token: tokens.id_token,
      email,
      password,
      'password hash': passwordHash!,
      'client id': clientId,
      'client secret': CLIENT_SECRET,
      ...Object.fromEntries(cookies.map((value, index) => [`cookie ${index}`, value])),
    };
    const ready = gatehouse.logs.find((line) => line.msg === 'Gatehouse is ready');
    return { spans: collector.spans(), raw: collector.raw, contentTypes: collector.contentTypes, secrets, announced: ready?.traces };
  } finally {
    await collector.close();
  }
}

/** The secrets (by name) that appear in the payload: none, or the test says which leaked. */
function leaked(run: Run): string[] {
  return Object.entries(run.secrets)
    .filter(([, value]) => run.raw.includes(value))
    .map(([name]) => name);
}

function serverSpanNames(run: Run): string[] {
  return run.spans.filter((span) => span.kind === SERVER).map((span) => span.name);
}

/** What every traced run must show, whichever store. */
function expectHttpSpans(run: Run, collectorUrl?: string): void {
  expect(run.contentTypes.every((type) => type.startsWith('application/json'))).toBe(true);
  expect(run.spans.length).toBeGreaterThan(0);
  expect(new Set(run.spans.map((span) => span.resource['service.name']))).toEqual(new Set(['gatehouse']));
  const names = serverSpanNames(run);
  expect(names).toEqual(
    expect.arrayContaining([
      'GET /.well-known/openid-configuration',
      'GET /auth',
      'GET /interaction/:uid',
      'POST /interaction/:uid/login',
      'POST /token',
      'GET /me',
    ]),
  );
  // No route: the method alone, never the raw path. Health probes are not traced at all.
  expect(names).toContain('GET');
  expect(names.some((name) => name.includes('/healthz') || name.includes('/no/such'))).toBe(false);
  for (const span of run.spans.filter((candidate) => candidate.kind === SERVER)) {
    expect(span.name).toBe(span.attributes['http.route'] === undefined ? span.attributes['http.request.method'] : `${span.attributes['http.request.method']} ${span.attributes['http.route']}`);
  }
  const attributeKeys = new Set(run.spans.flatMap((span) => Object.keys(span.attributes)));
  for (const key of ['url.path', 'url.query', 'url.full', 'http.target', 'http.url', 'client.address', 'network.peer.address', 'user_agent.original']) {
    expect(attributeKeys.has(key)).toBe(false);
  }
  expect(leaked(run)).toEqual([]);
  if (collectorUrl) expect(run.announced).toBe(collectorUrl);
}

describe('traces on the embedded store', () => {
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'gatehouse-tracing-'));
  });

  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('exports a server span per request, named by route template, with no uid, code, token, query value or secret anywhere, flushed at SIGTERM', async () => {
    const run = await traceASignIn({ DATA_DIR: dataDir });
    expectHttpSpans(run);
    expect(typeof run.announced).toBe('string');
  });

  it('loads no OpenTelemetry module at all when OTEL_EXPORTER_OTLP_ENDPOINT is unset', async () => {
    const probeFile = join(dataDir, 'modules.txt');
    const gatehouse = await startGatehouseProcess({
      DATA_DIR: dataDir,
      NODE_OPTIONS: `--import=${PROBE}`,
      MODULE_PROBE_FILE: probeFile,
    });
    expect((await fetch(`${gatehouse.url}/.well-known/openid-configuration`)).status).toBe(200);
    gatehouse.signal('SIGTERM');
    expect((await gatehouse.exited).code).toBe(0);
    const modules = (await readFile(probeFile, 'utf8')).split('\n');
    // The probe saw the app load (koa, pg for the embedded store's types aside): it works.
    expect(modules.some((url) => url.includes('/node_modules/koa/'))).toBe(true);
    // prom-client requires @opentelemetry/api (a no-op facade) for its exemplars; nothing else of OpenTelemetry loads.
    const otel = modules.filter((url) => /\/node_modules\/(@opentelemetry\/(?!api\/)|import-in-the-middle\/|require-in-the-middle\/)/.test(url));
    expect(otel).toEqual([]);
    expect(modules.some((url) => url.endsWith('/src/observability/trace-pipeline.ts'))).toBe(false);
    expect(gatehouse.logs.find((line) => line.msg === 'Gatehouse is ready')?.traces).toBeUndefined();
  });

  it('a collector that never answers delays neither the requests nor the exit beyond a few seconds', async () => {
    const silent = await OtlpCollector.start({ answer: false });
    try {
      const gatehouse = await startGatehouseProcess({ DATA_DIR: dataDir, OTEL_EXPORTER_OTLP_ENDPOINT: silent.url });
      for (let i = 0; i < 5; i += 1) expect((await fetch(`${gatehouse.url}/.well-known/openid-configuration`)).status).toBe(200);
      const signalled = gatehouse.signal('SIGTERM');
      const exit = await gatehouse.exited;
      expect(exit.code).toBe(0);
      expect(exit.at - signalled).toBeLessThan(6_000);
    } finally {
      await silent.close();
    }
  });
});

if (postgresUrl && redisUrl) {
  describe('traces on Postgres + Redis', () => {
    let run: Run;
    let prefix: string;
    let cleanup: () => Promise<void>;

    beforeAll(async () => {
      const stack = await servers.setup();
      cleanup = stack.cleanup;
      prefix = stack.env.REDIS_KEY_PREFIX!;
      run = await traceASignIn(stack.env);
    }, 180_000);

    afterAll(async () => {
      await cleanup();
    });

    it('exports the same server spans, with nothing secret in them', () => {
      expectHttpSpans(run);
      expect(run.raw.includes(prefix)).toBe(false); // no Redis key was recorded
    });

    /** Spans of `system` and the server spans of their traces (every one of them must be inside a request). */
    function storeSpans(system: string): { spans: ReceivedSpan[]; inRequests: boolean } {
      const spans = run.spans.filter((span) => span.attributes['db.system.name'] === system);
      const requestTraces = new Set(run.spans.filter((span) => span.kind === SERVER).map((span) => span.traceId));
      return { spans, inRequests: spans.every((span) => span.parentSpanId !== undefined && requestTraces.has(span.traceId)) };
    }

    it('exports a Postgres span per query inside the request spans: the statement with $n placeholders, never the values', () => {
      const { spans, inRequests } = storeSpans('postgresql');
      expect(spans.length).toBeGreaterThan(0);
      expect(inRequests).toBe(true);
      const statements = spans.map((span) => span.attributes['db.query.text']).filter((text): text is string => typeof text === 'string');
      expect(statements.some((text) => /\$1\b/.test(text))).toBe(true);
      expect(leaked(run)).toEqual([]);
    });

    it('exports a Redis span per command inside the request spans: the command name only, no keys or values', () => {
      const { spans, inRequests } = storeSpans('redis');
      expect(spans.length).toBeGreaterThan(0);
      expect(inRequests).toBe(true);
      for (const span of spans) {
        expect(span.attributes['db.query.text']).toBeUndefined();
        expect(String(span.attributes['db.operation.name'])).toMatch(/^((MULTI|PIPELINE) )?[a-z]+$/i);
      }
    });
  });
}
