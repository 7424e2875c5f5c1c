import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { sql } from 'kysely';
import { generate } from 'otplib';
import pino from 'pino';
import { createAccount } from '../../src/accounts/create-account.ts';
import { confirmTotpEnrolment, startTotpEnrolment } from '../../src/accounts/mfa/totp.ts';
import { createApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config/load.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { countPostgresError, watchRedis } from '../../src/observability/storage-metrics.ts';
import { startServer } from '../../src/server.ts';
import { openDatabase } from '../../src/storage/postgres/db.ts';
import { startTestServer, TEST_ENV, type TestServer } from '../support/app.ts';
import { refresh, refreshTokenFor } from '../support/accounts.ts';
import { postgresBackend, postgresUrl, redisUrl, uniqueName } from '../support/backends.ts';
import { formAction, inputValue, UserAgent } from '../support/browserless.ts';
import { REDIRECT_URI } from '../support/e2e.ts';
import { seedBasics, USER, WEB_SECRET } from '../support/fixtures.ts';
import { openLoginPage, rawAuthorization, startOnBackend, submit } from '../support/forms.ts';

/**
 * OPS (issue 8): /metrics. The exposition is checked line by line against the Prometheus text format
 * (a strict parser below, not a library that would forgive), and its counters against real flows.
 */

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"(,|$)/y;
/** Prometheus reads values with Go's ParseFloat, which ignores case in NaN and Inf (prom-client writes "Nan"). */
const VALUE = /^(?:[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[+-]?(?:inf|infinity)|nan)$/i;

/** The family a sample belongs to: histograms and summaries add suffixes to the family's name. */
function familyOf(name: string, types: Map<string, string>): string | undefined {
  if (types.has(name)) return name;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    const base = name.slice(0, -suffix.length);
    if (name.endsWith(suffix) && (types.get(base) === 'histogram' || (types.get(base) === 'summary' && suffix !== '_bucket'))) return base;
  }
  return undefined;
}

/**
 * Parses the Prometheus text exposition format (0.0.4) strictly: every line is a HELP, a TYPE, a
 * sample or empty (free comments, legal but never ours, are refused too); names and label names are valid; label values are quoted with only \\, \" and \n escaped;
 * values are floats, ±Inf or NaN; each family has one TYPE, before its samples; histogram buckets carry
 * `le`; the text ends with a newline. Throws on the first violation, naming the line.
 */
function parseExposition(text: string): Sample[] {
  if (!text.endsWith('\n')) throw new Error('the exposition must end with a newline');
  const types = new Map<string, string>();
  const helped = new Set<string>();
  const samples: Sample[] = [];
  text.slice(0, -1).split('\n').forEach((line, index) => {
    const fail = (why: string) => {
      throw new Error(`line ${index + 1}: ${why}: ${JSON.stringify(line)}`);
    };
    if (line.startsWith('# HELP ')) {
      const [name] = line.slice(7).split(' ', 1);
      if (!name || !NAME.test(name)) fail('bad HELP name');
      if (helped.has(name!)) fail('second HELP for a family');
      helped.add(name!);
      return;
    }
    if (line.startsWith('# TYPE ')) {
      const parts = line.slice(7).split(' ');
      if (parts.length !== 2 || !NAME.test(parts[0]!) || !TYPES.has(parts[1]!)) fail('bad TYPE line');
      if (types.has(parts[0]!)) fail('second TYPE for a family');
      if (samples.some((sample) => familyOf(sample.name, new Map([[parts[0]!, parts[1]!]])) === parts[0])) fail('TYPE after its samples');
      types.set(parts[0]!, parts[1]!);
      return;
    }
    if (line === '') return; // the format ignores empty lines (prom-client separates families with them)
    if (line.startsWith('#')) fail('a comment other than HELP or TYPE');
    const match = SAMPLE.exec(line);
    if (!match) return fail('not a sample line');
    const [, name, labelText, valueText] = match;
    const labels: Record<string, string> = {};
    if (labelText !== undefined && labelText !== '') {
      LABEL.lastIndex = 0;
      while (LABEL.lastIndex < labelText.length) {
        const label = LABEL.exec(labelText);
        if (!label) fail('bad label syntax');
        if (label![1]! in labels) fail('repeated label');
        labels[label![1]!] = label![2]!.replace(/\\n/g, '\n').replace(/\\(["\\])/g, '$1');
      }
    }
    if (!VALUE.test(valueText!)) fail('bad value');
    const family = familyOf(name!, types);
    if (!family) fail('sample without a TYPE for its family');
    if (types.get(family!) === 'histogram' && name!.endsWith('_bucket') && !('le' in labels)) fail('bucket without le');
    samples.push({ name: name!, labels, value: Number(valueText) });
  });
  return samples;
}

/** The value of the one sample with this name and (at least) these labels; 0 when there is none yet. */
function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter((sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value));
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return found[0]?.value ?? 0;
}

async function scrape(url: string): Promise<{ text: string; samples: Sample[] }> {
  const response = await fetch(`${url}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  expect(response.headers.get('cache-control')).toBe('no-store');
  const text = await response.text();
  return { text, samples: parseExposition(text) };
}

describe('the strict exposition parser (unit)', () => {
  it('accepts well-formed text and refuses samples without a TYPE, bad labels and bad values', () => {
    const good = '# HELP a_total A.\n# TYPE a_total counter\na_total{x="1",y="q\\"uote"} 3\n# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_sum 0.5\nh_count 1\n';
    expect(parseExposition(good)).toHaveLength(4);
    expect(() => parseExposition('b_total 1\n')).toThrow(/without a TYPE/);
    expect(() => parseExposition('# TYPE a counter\na{x=1} 1\n')).toThrow(/label/);
    expect(() => parseExposition('# TYPE a counter\na one\n')).toThrow(/not a sample|bad value/);
    expect(() => parseExposition('# TYPE a counter\n# a comment\na 1\n')).toThrow(/comment/);
    expect(() => parseExposition('# TYPE h histogram\nh_bucket 1\n')).toThrow(/le/);
    expect(() => parseExposition('# TYPE a counter\na 1')).toThrow(/newline/);
  });
});

describe('/metrics on the main port (embedded store)', () => {
  let server: TestServer;
  const EMAIL = 'two.step@example.com';
  const PASSWORD = 'two steps are better than one';
  const MISTYPED = 'mistyped@example.com';
  let totpSecret: string;

  beforeAll(async () => {
    // Low limits so a test can reach them in two requests; the addresses used for that are their own.
    server = await startTestServer({ DATA_DIR: 'memory://', CLIENT_AUTH_MAX_FAILURES: '1', SIGN_IN_PAIR_MAX_FAILURES: '1' });
    await seedBasics(server);
    await createAccount(server.app.db, server.app.hasher, { email: MISTYPED, password: PASSWORD, emailVerified: true });
    const account = await createAccount(server.app.db, server.app.hasher, { email: EMAIL, password: PASSWORD, emailVerified: true });
    // Enrolled a minute ago, so the current code has not been used yet.
    const past = { db: server.app.db, keyEncryptionKeys: server.config.keyEncryptionKeys, now: () => new Date(Date.now() - 60_000) };
    totpSecret = (await startTotpEnrolment(past, account, 'Gatehouse'))!.secret;
    expect(await confirmTotpEnrolment(past, account.id, await generate({ secret: totpSecret, epoch: Math.floor(Date.now() / 1000) - 60 }))).toBe(true);
  });

  afterAll(async () => {
    await server?.close();
  });

  it('is valid Prometheus text, not cached, with the process metrics and event-loop lag', async () => {
    const { samples } = await scrape(server.url);
    expect(valueOf(samples, 'process_start_time_seconds')).toBeGreaterThan(0);
    expect(samples.some((sample) => sample.name === 'nodejs_eventloop_lag_seconds')).toBe(true);
    expect(samples.some((sample) => sample.name === 'nodejs_eventloop_lag_p99_seconds')).toBe(true);
    expect(server.app.metrics.enabled).toBe(true);
  });

  it('counts a real sign-in, a failed one and the tokens issued, by outcome and grant type, and shows no secret', async () => {
    const before = (await scrape(server.url)).samples;
    // A wrong password first (its own user agent), then the real sign-in and code exchange, then a refresh.
    const failing = new UserAgent();
    const failed = await openLoginPage(failing, server.issuer, rawAuthorization(server.issuer, { client_id: 'web', redirect_uri: REDIRECT_URI }).url);
    // Another account than the one signing in next: SIGN_IN_PAIR_MAX_FAILURES=1 would block that pair.
    expect((await submit(failing, failed.login, { email: MISTYPED, password: 'not the password at all' })).status).toBe(400);
    const refreshToken = await refreshTokenFor(new UserAgent(), server, USER.email, USER.password);
    expect((await refresh(server, refreshToken)).status).toBe(200);
    const { text, samples } = await scrape(server.url);
    const moved = (name: string, labels: Record<string, string>) => valueOf(samples, name, labels) - valueOf(before, name, labels);

    expect(moved('gatehouse_sign_ins_total', { outcome: 'success' })).toBe(1);
    expect(moved('gatehouse_sign_ins_total', { outcome: 'wrong_password' })).toBe(1);
    expect(moved('gatehouse_audit_events_total', { type: 'sign_in', outcome: 'failure' })).toBe(1);
    expect(moved('gatehouse_tokens_issued_total', { grant_type: 'authorization_code' })).toBe(1);
    expect(moved('gatehouse_tokens_issued_total', { grant_type: 'refresh_token' })).toBe(1);
    // Durations by route template: our sign-in POST and oidc-provider's token endpoint.
    expect(moved('gatehouse_http_request_duration_seconds_count', { method: 'POST', route: '/interaction/:uid/login', status: '303' })).toBe(1);
    expect(moved('gatehouse_http_request_duration_seconds_count', { method: 'POST', route: '/interaction/:uid/login', status: '400' })).toBe(1);
    expect(moved('gatehouse_http_request_duration_seconds_count', { method: 'POST', route: '/token', status: '200' })).toBe(2);
    expect(moved('gatehouse_http_request_duration_seconds_count', { method: 'GET', route: '/auth', status: '303' })).toBeGreaterThanOrEqual(2);

    // Nothing personal or secret: not the email, the client's secret, the refresh token or the client's address.
    for (const secret of [USER.email, MISTYPED, USER.password, WEB_SECRET, refreshToken, '127.0.0.1', failed.uid]) expect(text).not.toContain(secret);
  });

  it('counts second-factor outcomes by factor', async () => {
    const before = (await scrape(server.url)).samples;
    const ua = new UserAgent();
    const login = await openLoginPage(ua, server.issuer, rawAuthorization(server.issuer, { client_id: 'web', redirect_uri: REDIRECT_URI }).url);
    const { url, response } = await ua.follow(login.url, server.issuer, await submit(ua, login.login, { email: EMAIL, password: PASSWORD }));
    let html = await response.text();
    const postCode = (code: string) => ua.post(new URL(formAction(html, '/mfa'), server.issuer).href, { code, csrf: inputValue(html, 'csrf') });
    const code = await generate({ secret: totpSecret, epoch: Math.floor(Date.now() / 1000) });
    const wrong = await postCode(code === '000000' ? '111111' : '000000');
    expect(wrong.status).toBe(400);
    html = await wrong.text();
    expect((await postCode(code)).status).toBe(303);
    expect(url).toContain('/interaction/');
    const { samples } = await scrape(server.url);
    const moved = (name: string, labels: Record<string, string>) => valueOf(samples, name, labels) - valueOf(before, name, labels);
    expect(moved('gatehouse_mfa_verifications_total', { factor: 'totp', outcome: 'wrong_code' })).toBe(1);
    expect(moved('gatehouse_mfa_verifications_total', { factor: 'totp', outcome: 'success' })).toBe(1);
    expect(moved('gatehouse_sign_ins_total', { outcome: 'success' })).toBe(1);
  });

  it('counts limiter blocks by limit: the sign-in pair limit and the client-authentication limit at /token', async () => {
    const before = (await scrape(server.url)).samples;
    // SIGN_IN_PAIR_MAX_FAILURES=1: this address's second attempt from here is refused before any password check.
    const email = `${uniqueName('nobody')}@example.com`;
    for (const expected of [400, 429]) {
      const ua = new UserAgent();
      const page = await openLoginPage(ua, server.issuer, rawAuthorization(server.issuer, { client_id: 'web', redirect_uri: REDIRECT_URI }).url);
      expect((await submit(ua, page.login, { email, password: 'whatever it is' })).status).toBe(expected);
    }
    // CLIENT_AUTH_MAX_FAILURES=1: a wrong secret, then the pair is blocked (429 before the secret is compared).
    const clientId = uniqueName('client');
    for (const expected of [401, 429]) {
      const response = await fetch(`${server.issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${clientId}:wrong-secret`).toString('base64')}` },
        body: new URLSearchParams({ grant_type: 'client_credentials' }),
      });
      expect(response.status).toBe(expected);
    }
    const { text, samples } = await scrape(server.url);
    const moved = (name: string, labels: Record<string, string>) => valueOf(samples, name, labels) - valueOf(before, name, labels);
    expect(moved('gatehouse_rate_limit_blocks_total', { limit: 'sign-in-pair' })).toBe(1);
    expect(moved('gatehouse_rate_limit_blocks_total', { limit: 'client-auth' })).toBe(1);
    expect(moved('gatehouse_sign_ins_total', { outcome: 'rate_limited' })).toBe(1);
    // The limit answers before oidc-provider routes the request; the route is still the template, not "unmatched".
    expect(moved('gatehouse_http_request_duration_seconds_count', { method: 'POST', route: '/token', status: '429' })).toBe(1);
    for (const chosen of [email, clientId]) expect(text).not.toContain(chosen);
  });

  it('labels requests with the route template, never the raw path, and unknown paths as "unmatched"', async () => {
    const uid = randomBytes(16).toString('base64url');
    const stray = `/no-such-page-${randomBytes(8).toString('hex')}`;
    const before = (await scrape(server.url)).samples;
    const interaction = await fetch(`${server.url}/interaction/${uid}`);
    const unknown = await fetch(`${server.url}${stray}`);
    const { text, samples } = await scrape(server.url);
    const moved = (labels: Record<string, string>) =>
      valueOf(samples, 'gatehouse_http_request_duration_seconds_count', labels) - valueOf(before, 'gatehouse_http_request_duration_seconds_count', labels);
    expect(moved({ method: 'GET', route: '/interaction/:uid', status: String(interaction.status) })).toBe(1);
    expect(moved({ method: 'GET', route: 'unmatched', status: String(unknown.status) })).toBe(1);
    expect(text).not.toContain(uid);
    expect(text).not.toContain(stray);
    // Every route label is a template or "unmatched": no raw uid-like segment anywhere.
    const routes = new Set(samples.filter((sample) => sample.labels.route !== undefined).map((sample) => sample.labels.route!));
    for (const route of routes) expect(route === 'unmatched' || /^\/[\w./:-]*$/.test(route)).toBe(true);
  });

  it('counts a failed query by its SQLSTATE class', async () => {
    const before = (await scrape(server.url)).samples;
    await expect(sql`select * from no_such_table`.execute(server.app.db)).rejects.toThrow();
    const { samples } = await scrape(server.url);
    expect(valueOf(samples, 'gatehouse_postgres_errors_total', { class: '42' }) - valueOf(before, 'gatehouse_postgres_errors_total', { class: '42' })).toBe(1);
    // The embedded store has no pool to report.
    expect(samples.some((sample) => sample.name === 'gatehouse_postgres_pool_connections')).toBe(false);
  });
});

describe('switching /metrics off or onto its own port', () => {
  it('METRICS_ENABLED=false: /metrics is 404 and nothing is registered', async () => {
    const server = await startTestServer({ DATA_DIR: 'memory://', METRICS_ENABLED: 'false' });
    try {
      expect((await fetch(`${server.url}/metrics`)).status).toBe(404);
      expect(server.app.metrics.enabled).toBe(false);
      expect((await server.app.metrics.registry.metrics()).trim()).toBe('');
    } finally {
      await server.close();
    }
  });

  it('METRICS_PORT: /metrics is served on that port only, and counts the main port\'s requests', async () => {
    const config = loadConfig({ ...TEST_ENV, DATA_DIR: 'memory://', HOST: '127.0.0.1', PORT: '0', METRICS_PORT: '0', ISSUER: 'http://127.0.0.1:3999' });
    const app = await createApp(config, { migrate: true, logger: pino({ level: 'silent' }) });
    const running = await startServer(app);
    try {
      expect(running.metricsUrl).toBeDefined();
      expect(running.metricsUrl).not.toBe(running.url);
      const onMain = await fetch(`${running.url}/metrics`);
      expect(onMain.status).toBe(404);
      expect(await onMain.text()).not.toContain('# TYPE');
      expect((await fetch(`${running.url}/healthz`)).status).toBe(200);
      const { samples } = await scrape(running.metricsUrl!);
      expect(valueOf(samples, 'gatehouse_http_request_duration_seconds_count', { method: 'GET', route: '/healthz', status: '200' })).toBe(1);
      expect(valueOf(samples, 'gatehouse_http_request_duration_seconds_count', { method: 'GET', route: 'unmatched', status: '404' })).toBe(1);
      // The metrics listener serves nothing else.
      expect((await fetch(`${running.metricsUrl}/healthz`)).status).toBe(404);
    } finally {
      await running.stop(1_000);
    }
  });

  it('refuses METRICS_PORT equal to PORT (the point is to keep /metrics off the public port)', () => {
    expect(() => loadConfig({ ...TEST_ENV, DATA_DIR: 'memory://', PORT: '8080', METRICS_PORT: '8080' })).toThrow(/METRICS_PORT: must differ from PORT/);
    expect(loadConfig({ ...TEST_ENV, DATA_DIR: 'memory://', PORT: '8080', METRICS_PORT: '9464' }).metrics).toEqual({ enabled: true, port: 9464 });
    expect(loadConfig({ ...TEST_ENV, DATA_DIR: 'memory://' }).metrics).toEqual({ enabled: true, port: undefined });
  });
});

describe('store errors', () => {
  it('counts a Postgres server that cannot be reached as a "connection" error', async () => {
    const metrics = createMetrics();
    // Port 1 on loopback: nothing listens, so the pool's connection attempt is refused.
    const handle = await openDatabase({ kind: 'postgres', url: 'postgres://nobody@127.0.0.1:1/none', poolMax: 1 }, () => {}, (error) => countPostgresError(error, metrics));
    try {
      await expect(sql`select 1`.execute(handle.db)).rejects.toThrow();
    } finally {
      await handle.close();
    }
    const samples = parseExposition(await metrics.registry.metrics());
    expect(valueOf(samples, 'gatehouse_postgres_errors_total', { class: 'connection' })).toBe(1);
    expect(samples.filter((sample) => sample.name === 'gatehouse_postgres_errors_total')).toHaveLength(1);
  });

  it('counts Redis connection errors and reports the client down', async () => {
    const metrics = createMetrics();
    const redis = new Redis('redis://127.0.0.1:1', { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    watchRedis(redis, metrics);
    await expect(redis.connect()).rejects.toThrow();
    redis.disconnect();
    const samples = parseExposition(await metrics.registry.metrics());
    expect(valueOf(samples, 'gatehouse_redis_errors_total')).toBeGreaterThanOrEqual(1);
    expect(valueOf(samples, 'gatehouse_redis_up')).toBe(0);
  });

  if (postgresUrl) {
    describe('on Postgres', () => {
      let server: TestServer;
      let stop: () => Promise<void>;

      beforeAll(async () => {
        ({ server, stop } = await startOnBackend(postgresBackend));
      });

      afterAll(async () => {
        await stop?.();
      });

      it('reports the pool on each scrape and counts failed queries by class', async () => {
        await sql`select * from no_such_table`.execute(server.app.db).catch(() => undefined);
        const { samples } = await scrape(server.url);
        expect(valueOf(samples, 'gatehouse_postgres_pool_connections')).toBeGreaterThanOrEqual(1);
        expect(valueOf(samples, 'gatehouse_postgres_pool_idle_connections')).toBeGreaterThanOrEqual(0);
        expect(valueOf(samples, 'gatehouse_postgres_pool_waiting_requests')).toBe(0);
        expect(valueOf(samples, 'gatehouse_postgres_errors_total', { class: '42' })).toBe(1);
      });
    });
  }

  if (redisUrl) {
    describe('on Redis', () => {
      let server: TestServer;

      beforeAll(async () => {
        server = await startTestServer({ DATA_DIR: 'memory://', REDIS_URL: redisUrl!, REDIS_KEY_PREFIX: `${uniqueName('gh')}:` });
      });

      afterAll(async () => {
        await server?.close();
      });

      it('reports the Redis client up, with no errors', async () => {
        const { samples } = await scrape(server.url);
        expect(valueOf(samples, 'gatehouse_redis_up')).toBe(1);
        expect(valueOf(samples, 'gatehouse_redis_errors_total')).toBe(0);
      });
    });
  }
});
