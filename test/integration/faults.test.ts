import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import pg from 'pg';
import pino from 'pino';
import { StoreUnavailableError } from '../../src/errors.ts';
import { isStoreUnavailable } from '../../src/storage/unavailable.ts';
import { fillForm, tokenLink, withoutCsrf } from '../support/accounts.ts';
import { startTestServer, type TestServer } from '../support/app.ts';
import { createTestDatabase, postgresUrl, redisUrl, uniqueName } from '../support/backends.ts';
import { UserAgent } from '../support/browserless.ts';
import {
  expectEveryStepRefused,
  expectNoPileUp,
  expectRecovered,
  OUTAGE_BOUND_MS,
  readyAgain,
  signInBefore,
  startFlow,
} from '../support/fault-flows.ts';
import { seedBasics, USER } from '../support/fixtures.ts';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.ts';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts';

/*
 * Fault tolerance (issue 8; REL-F1, REL-F4, REL-F10): Redis or Postgres cut off, black-holed or slow
 * behind a TCP proxy we control (the machine's shared servers are never touched). Requests that need the
 * store answer 503 with Retry-After within the bound, without a stack trace; /readyz says so and
 * /healthz does not; nothing is issued that was not stored; and service resumes by itself.
 */

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

/** REL-F11 (and REC-01): the mail server down changes nothing the visitor sees; the outbox retries later. */
describe('SMTP down during forgot-password', () => {
  let sink: SmtpSink;
  let proxy: TcpProxy;
  let server: TestServer;
  let now = Date.now();
  const logLines: string[] = [];

  beforeAll(async () => {
    sink = await startSmtpSink();
    const target = new URL(sink.url);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port) });
    server = await startTestServer(
      { DATA_DIR: 'memory://', SMTP_URL: proxy.rewrite(sink.url), NEW_DEVICE_ALERTS: 'false' },
      { clock: () => now, logger: pino({ level: 'info' }, { write: (line: string) => void logLines.push(line) }) },
    );
    await seedBasics(server);
  });

  afterAll(async () => {
    await server?.close();
    await proxy?.close();
    await sink?.close();
  });

  it('answers known and unknown addresses alike (no 500), logs the failed delivery and sends the link once SMTP is back', async () => {
    proxy.cut();
    const known = await fillForm(new UserAgent(), server.issuer, '/forgot-password', { email: USER.email });
    const unknown = await fillForm(new UserAgent(), server.issuer, '/forgot-password', { email: 'nobody-at-all@example.com' });
    expect([known.status, unknown.status]).toEqual([200, 200]);
    expect(withoutCsrf(await known.text())).toBe(withoutCsrf(await unknown.text()));

    // The reset mail is queued after the response; its first delivery fails against the cut link.
    const outbox = () => server.app.db.selectFrom('mail_outbox').selectAll().where('recipient', '=', USER.email).execute();
    for (let waited = 0; !(await outbox()).some((mail) => mail.attempts > 0); waited += 50) {
      if (waited > 10_000) throw new Error('the reset mail was never attempted');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const [failed] = await outbox();
    expect(failed).toMatchObject({ sent_at: null, failed_at: null });
    expect(failed!.last_error).toBeTruthy();
    expect(logLines.join('')).toContain('mail delivery attempt failed, will retry');
    expect(sink.messages).toHaveLength(0);

    proxy.restore();
    now += 31_000; // past the first retry's 30 s
    await server.app.mailer.deliverDue();
    const mail = await sink.waitFor((message) => message.to.includes(USER.email));
    expect(tokenLink(mail).startsWith(`${server.issuer}/reset-password?token=`)).toBe(true);
    expect(sink.messages.some((message) => message.to.includes('nobody-at-all'))).toBe(false);
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
      // REL-F10 asks for an event-loop lag p99 under 100 ms while the store is slow.
      // Event-loop lag is printed, not asserted: a busy machine (the other test worker hashing) moves it.

      console.log(`REL-F10 event-loop lag p99 during the outage: ${(await expectNoPileUp(server, 20, OUTAGE_BOUND_MS)).toFixed(0)} ms`);
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
      // Short bounds so a black-holed link answers within the 2 s (the defaults are 2 s and 5 s).
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
        // Event-loop lag is printed, not asserted: a busy machine (the other test worker hashing) moves it.

        console.log(`REL-F10 event-loop lag p99 during the outage: ${(await expectNoPileUp(server, 10, OUTAGE_BOUND_MS)).toFixed(0)} ms`);
      } finally {
        await admin.query('ROLLBACK');
        await admin.end();
      }
      expect(await readyAgain(server)).toBeLessThan(5_000);
      expect((await signInBefore(server)).accessToken).toBeTruthy();
    });
  });
}
