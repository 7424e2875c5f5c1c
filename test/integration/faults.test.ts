import { performance } from 'node:perf_hooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import * as oidc from 'openid-client';
import pg from 'pg';
import { StoreUnavailableError } from '../../src/errors.ts';
import { isStoreUnavailable } from '../../src/storage/unavailable.ts';
import { startTestServer, type TestServer } from '../support/app.ts';
import { createTestDatabase, postgresUrl, redisUrl, uniqueName } from '../support/backends.ts';
import { UserAgent } from '../support/browserless.ts';
import { REDIRECT_URI } from '../support/e2e.ts';
import { seedBasics, USER, WEB_SECRET } from '../support/fixtures.ts';
import { findForm, openLoginPage, rawAuthorization, signInThroughForms, submit, type LoginPage } from '../support/forms.ts';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts';

/*
 * Fault tolerance (issue 8; REL-F1, REL-F4, REL-F10): Redis or Postgres cut off, black-holed or slow
 * behind a TCP proxy we control (the machine's shared servers are never touched). Requests that need the
 * store answer 503 with Retry-After within the bound, without a stack trace; /readyz says so and
 * /healthz does not; nothing is issued that was not stored; and service resumes by itself.
 */

/** The bound the issue sets for an answer during an outage. */
const OUTAGE_BOUND_MS = 2_000;

const basic = `Basic ${Buffer.from(`web:${WEB_SECRET}`).toString('base64')}`;

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work();
  return { value, ms: performance.now() - started };
}

/** A 503 that says when to come back, in time, and shows no internals. */
async function expectOutage(response: Response, ms: number): Promise<string> {
  const body = await response.text();
  expect({ status: response.status, retryAfter: response.headers.get('retry-after') }).toEqual({ status: 503, retryAfter: '5' });
  expect(ms).toBeLessThan(OUTAGE_BOUND_MS);
  expect(body).not.toMatch(/\n\s+at |ECONN|ETIMEDOUT|ioredis|timed out|Connection terminated|Stream isn't/);
  expect(response.headers.get('set-cookie')).toBeNull();
  expect(response.headers.get('location')).toBeNull();
  return body;
}

function exchange(server: TestServer, code: string, verifier: string): Promise<Response> {
  return fetch(`${server.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier }),
  });
}

function userinfo(server: TestServer, accessToken: string): Promise<Response> {
  return fetch(`${server.issuer}/me`, { headers: { authorization: `Bearer ${accessToken}` } });
}

/** Polls /readyz until it is 200; the time it took. */
async function readyAgain(server: TestServer, limitMs = 15_000): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < limitMs) {
    if ((await fetch(`${server.issuer}/readyz`)).status === 200) return performance.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`/readyz not 200 within ${limitMs} ms`);
}

/** A completed sign-in before the outage: its code is consumed, its tokens are live. */
interface Before {
  code: string;
  verifier: string;
  accessToken: string;
  refreshToken: string;
}

async function signInBefore(server: TestServer): Promise<Before> {
  const auth = rawAuthorization(server.issuer, { client_id: 'web', redirect_uri: REDIRECT_URI, scope: 'openid offline_access', prompt: 'consent' });
  const callback = await signInThroughForms(new UserAgent(), server.issuer, auth.url, USER.email, USER.password);
  const code = callback.searchParams.get('code')!;
  const response = await exchange(server, code, auth.verifier);
  const tokens = (await response.json()) as { access_token: string; refresh_token: string };
  expect(response.status).toBe(200);
  return { code, verifier: auth.verifier, accessToken: tokens.access_token, refreshToken: tokens.refresh_token };
}

/** A sign-in stopped at the password form: the interaction is stored, the password not yet sent. */
interface MidFlow {
  ua: UserAgent;
  auth: ReturnType<typeof rawAuthorization>;
  page: LoginPage;
}

async function startFlow(server: TestServer): Promise<MidFlow> {
  const ua = new UserAgent();
  const auth = rawAuthorization(server.issuer, { client_id: 'web', redirect_uri: REDIRECT_URI, scope: 'openid email' });
  return { ua, auth, page: await openLoginPage(ua, server.issuer, auth.url) };
}

/**
 * What every request that needs the store must do during the outage: the next step of the sign-in,
 * a token request, userinfo and a fresh authorization all answer 503 in time; /readyz 503, /healthz 200.
 */
async function expectEveryStepRefused(server: TestServer, flow: MidFlow, before: Before, store: 'redis' | 'database'): Promise<void> {
  const cookiesBefore = flow.ua.setCookies.length;
  const login = await timed(() => submit(flow.ua, flow.page.login, { email: USER.email, password: USER.password }));
  const page = await expectOutage(login.value, login.ms);
  expect(page).toContain('temporarily unavailable');
  expect(flow.ua.setCookies.length).toBe(cookiesBefore);

  const token = await timed(() => exchange(server, before.code, before.verifier));
  expect(JSON.parse(await expectOutage(token.value, token.ms))).toEqual({ error: 'temporarily_unavailable', error_description: expect.any(String) });

  const me = await timed(() => userinfo(server, before.accessToken));
  expect(JSON.parse(await expectOutage(me.value, me.ms))).toMatchObject({ error: 'temporarily_unavailable' });

  const fresh = rawAuthorization(server.issuer, { client_id: 'web', redirect_uri: REDIRECT_URI });
  const authorize = await timed(() => fetch(fresh.url, { headers: { accept: 'text/html' }, redirect: 'manual' }));
  expect(await expectOutage(authorize.value, authorize.ms)).toContain('temporarily unavailable');

  const ready = await timed(() => fetch(`${server.issuer}/readyz`));
  expect(ready.value.status).toBe(503);
  expect(ready.ms).toBeLessThan(OUTAGE_BOUND_MS + 500);
  const checks = ((await ready.value.json()) as { checks: Record<string, string> }).checks;
  expect(checks[store]).toMatch(/^unavailable/);
  expect((await fetch(`${server.issuer}/healthz`)).status).toBe(200);
}

/**
 * After the store is back: the browser that was refused mid-flow holds no session (prompt=none says
 * login_required), the same password form now works and the sign-in completes with tokens openid-client
 * validates; the refresh token from before the outage still works and its consumed code still fails.
 */
async function expectRecovered(server: TestServer, flow: MidFlow, before: Before): Promise<void> {
  const silent = rawAuthorization(server.issuer, { client_id: 'web', redirect_uri: REDIRECT_URI, prompt: 'none' });
  const { url } = await flow.ua.follow(silent.url, server.issuer);
  expect(new URL(url).searchParams.get('error')).toBe('login_required');

  const response = await submit(flow.ua, flow.page.login, { email: USER.email, password: USER.password });
  expect(response.status).toBe(303);
  const afterLogin = await flow.ua.follow(flow.page.url, server.issuer, response);
  let landed = afterLogin.url;
  if (landed.startsWith(server.issuer)) {
    const consent = await submit(flow.ua, findForm(await afterLogin.response.text(), '/consent', server.issuer), { decision: 'approve' });
    landed = (await flow.ua.follow(landed, server.issuer, consent)).url;
  }
  const rp = await oidc.discovery(new URL(server.issuer), 'web', undefined, oidc.ClientSecretBasic(WEB_SECRET), { execute: [oidc.allowInsecureRequests] });
  const tokens = await oidc.authorizationCodeGrant(rp, new URL(landed), {
    pkceCodeVerifier: flow.auth.verifier,
    expectedState: flow.auth.state,
    expectedNonce: new URL(flow.auth.url).searchParams.get('nonce')!,
  });
  expect(tokens.claims()!.sub).toBeTruthy();
  expect((await userinfo(server, tokens.access_token)).status).toBe(200);

  const refreshed = await fetch(`${server.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: before.refreshToken }),
  });
  expect(refreshed.status).toBe(200);
  // Last: a replayed code revokes its grant (that refresh token included), as it should.
  const replay = await exchange(server, before.code, before.verifier);
  expect(replay.status).toBe(400);
  expect(((await replay.json()) as { error: string }).error).toBe('invalid_grant');
}

/** Fires `count` requests at once during a slow store: every one is answered in time, none waits in a queue. */
async function expectNoPileUp(server: TestServer, count: number, boundMs: number): Promise<void> {
  const started = performance.now();
  const answers = await Promise.all(
    Array.from({ length: count }, async () => {
      const response = await fetch(rawAuthorization(server.issuer, { client_id: 'web', redirect_uri: REDIRECT_URI }).url, { headers: { accept: 'application/json' }, redirect: 'manual' });
      return { status: response.status, retryAfter: response.headers.get('retry-after'), ms: performance.now() - started };
    }),
  );
  for (const answer of answers) expect(answer).toEqual({ status: 503, retryAfter: '5', ms: expect.any(Number) });
  expect(Math.max(...answers.map((answer) => answer.ms))).toBeLessThan(boundMs);
}

/**
 * The store cut off (refused at once) and black-holed (only silence, so only timeouts help), each in the
 * middle of a sign-in: every step refused in time, then recovery without a restart within 5 s of the store
 * returning (REL-F1 for Redis, REL-F4 for the Postgres pool), and the invariants of expectRecovered.
 */
function outageScenarios(rig: () => { server: TestServer; proxy: TcpProxy; store: 'redis' | 'database' }): void {
  // A failed test must not leave the next one (of the whole describe) behind a broken link.
  afterEach(async () => {
    const { server, proxy } = rig();
    proxy.restore();
    await readyAgain(server);
  });

  it.each([
    ['cut off', (proxy: TcpProxy) => proxy.cut()],
    ['black-holed', (proxy: TcpProxy) => proxy.blackhole()],
  ])('%s mid-sign-in: 503 with Retry-After within 2 s everywhere, /readyz 503, /healthz 200; back: the flow completes by itself', async (_name, fail) => {
    const { server, proxy, store } = rig();
    const before = await signInBefore(server);
    const flow = await startFlow(server);
    fail(proxy);
    await expectEveryStepRefused(server, flow, before, store);
    proxy.restore();
    expect(await readyAgain(server)).toBeLessThan(5_000);
    await expectRecovered(server, flow, before);
  });
}

describe('recognising a store outage (the one classifier)', () => {
  const withCode = (code: string, extra: Record<string, unknown> = {}) => Object.assign(new Error('x'), { code, ...extra });

  it.each([
    ['ioredis without a connection', new Error("Stream isn't writeable and enableOfflineQueue options is false")],
    ['ioredis commandTimeout', new Error('Command timed out')],
    ['ioredis after the connection dropped', Object.assign(new Error('Reached the max retries per request limit (which is 0).'), { name: 'MaxRetriesPerRequestError' })],
    ['Redis still loading its AOF after a restart', Object.assign(new Error('LOADING Redis is loading the dataset in memory'), { name: 'ReplyError' })],
    ['Redis full under noeviction', Object.assign(new Error("OOM command not allowed when used memory > 'maxmemory'."), { name: 'ReplyError' })],
    ['pg: connection dropped', new Error('Connection terminated unexpectedly')],
    ['pg-pool: connectionTimeoutMillis', new Error('timeout exceeded when trying to connect')],
    ['pg: query_timeout', new Error('Query read timeout')],
    ['Postgres statement_timeout', withCode('57014', { severity: 'ERROR' })],
    ['Postgres shutting down', withCode('57P01', { severity: 'FATAL' })],
    ['Postgres starting up', withCode('57P03', { severity: 'FATAL' })],
    ['a refused socket', withCode('ECONNREFUSED')],
    ['a refused dual-stack connect', new AggregateError([withCode('ECONNREFUSED'), withCode('ECONNREFUSED')], 'connect failed')],
    ['an outage wrapped by the limiter or the audit trail', new Error('rate-limit store unavailable', { cause: new Error('Command timed out') })],
  ])('%s is an outage', (_name, error) => {
    expect(isStoreUnavailable(error)).toBe(true);
  });

  it.each([
    ['a bug', new TypeError("Cannot read properties of undefined (reading 'id')")],
    ['a constraint violation', withCode('23505', { severity: 'ERROR' })],
    ['a Redis type error', Object.assign(new Error('WRONGTYPE Operation against a key holding the wrong kind of value'), { name: 'ReplyError' })],
    ['a 5-character code that is not Postgres', withCode('57014')],
    ['nothing at all', undefined],
  ])('%s is not', (_name, error) => {
    expect(isStoreUnavailable(error)).toBe(false);
  });

  it('presents as 503 temporarily_unavailable with a safe message and Retry-After', () => {
    const error = new StoreUnavailableError(new Error('Command timed out'));
    expect(error).toMatchObject({ status: 503, code: 'temporarily_unavailable', expose: true, retryAfterSeconds: 5 });
    expect(error.message).not.toMatch(/Redis|Postgres|timed out/);
  });
});

if (redisUrl) {
  describe('Redis cut off, black-holed or slow (behind a TCP proxy)', () => {
    let proxy: TcpProxy;
    let server: TestServer;
    let prefix: string;

    beforeAll(async () => {
      const target = new URL(redisUrl!);
      proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
      prefix = `${uniqueName('gh_faults')}:`;
      server = await startTestServer({ DATA_DIR: 'memory://', REDIS_URL: proxy.rewrite(redisUrl!), REDIS_KEY_PREFIX: prefix });
      await seedBasics(server);
    });

    afterAll(async () => {
      await server?.close();
      await proxy?.close();
      const redis = new Redis(redisUrl!);
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length) await redis.del(...keys);
      redis.disconnect();
    });

    outageScenarios(() => ({ server, proxy, store: 'redis' }));

    it('REL-F10: every reply 3 s late: 20 requests at once are all answered 503 at the command timeout, and service resumes', async () => {
      proxy.delay(3_000);
      await expectNoPileUp(server, 20, OUTAGE_BOUND_MS);
      proxy.restore();
      expect(await readyAgain(server)).toBeLessThan(5_000);
      const before = await signInBefore(server);
      expect(before.accessToken).toBeTruthy();
    });
  });
}

if (postgresUrl) {
  describe('Postgres cut off, black-holed or slow (behind a TCP proxy)', () => {
    let proxy: TcpProxy;
    let server: TestServer;
    let database: Awaited<ReturnType<typeof createTestDatabase>>;

    beforeAll(async () => {
      database = await createTestDatabase();
      const target = new URL(database.url);
      proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
      // Short bounds so a black-holed link answers within the issue's 2 s (the defaults are 2 s and 5 s).
      server = await startTestServer({
        DATABASE_URL: proxy.rewrite(database.url),
        DATABASE_CONNECT_TIMEOUT_MS: '1000',
        DATABASE_STATEMENT_TIMEOUT_MS: '500',
      });
      await seedBasics(server);
    });

    afterAll(async () => {
      await server?.close();
      await proxy?.close();
      await database?.drop();
    });

    outageScenarios(() => ({ server, proxy, store: 'database' }));

    it('REL-F10: a table locked by another session: requests end at statement_timeout with 503, all of them, then work again', async () => {
      const admin = new pg.Client({ connectionString: database.url });
      await admin.connect();
      try {
        await admin.query('BEGIN');
        await admin.query('LOCK TABLE oidc_payloads IN ACCESS EXCLUSIVE MODE');
        // 500 ms statement_timeout: answered at the bound, well before the proxy-free lock would end.
        await expectNoPileUp(server, 10, OUTAGE_BOUND_MS);
      } finally {
        await admin.query('ROLLBACK');
        await admin.end();
      }
      expect(await readyAgain(server)).toBeLessThan(5_000);
      expect((await signInBefore(server)).accessToken).toBeTruthy();
    });
  });
}
