import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import Koa from 'koa';
import pino from 'pino';
import { createApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config/load.ts';
import { AuditWriteError, createAuditLog, type AuditRequest } from '../../src/audit/audit-log.ts';
import { createAuditRetention } from '../../src/audit/retention.ts';
import { listAuditTrail } from '../../src/admin/audit.ts';
import { requestContext } from '../../src/http/middleware/request-context.ts';
import { createLogger } from '../../src/logger.ts';
import { insertAuditEvent } from '../../src/storage/postgres/audit-events.queries.ts';
import { insertAccount } from '../../src/storage/postgres/accounts.queries.ts';
import { openDatabase, type DatabaseHandle } from '../../src/storage/postgres/db.ts';
import { migrateToLatest } from '../../src/storage/postgres/migrate.ts';
import { TEST_ENV } from '../support/app.ts';
import { databaseBackends } from '../support/backends.ts';

const T0 = Date.parse('2026-11-29T10:00:00Z');
const DAY = 24 * 3600 * 1000;

const event = (occurredAt: number, type = 'sign_in') => ({
  occurredAt: new Date(occurredAt),
  type,
  outcome: 'success' as const,
  accountId: null,
  clientId: null,
  ip: null,
  userAgent: null,
  requestId: null,
  details: {},
});

function request(overrides: Partial<{ ip: string; userAgent: string; requestId: unknown }> = {}): AuditRequest {
  const userAgent = overrides.userAgent ?? 'Mozilla/5.0 (test)';
  return {
    ip: overrides.ip ?? '203.0.113.9',
    get: (field) => (field.toLowerCase() === 'user-agent' ? userAgent : ''),
    state: { requestId: 'requestId' in overrides ? overrides.requestId : 'req-123' },
  };
}

describe.each(databaseBackends)('audit trail on $name', (backend) => {
  let handle: DatabaseHandle;
  let cleanup: () => Promise<void>;
  let now = T0;
  const lines: string[] = [];
  const logger = createLogger({ logLevel: 'info' }, { write: (line: string) => void lines.push(line) });
  const logged = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  let audit: ReturnType<typeof createAuditLog>;

  beforeAll(async () => {
    const made = await backend.setup();
    cleanup = made.cleanup;
    handle = await openDatabase(made.config);
    await migrateToLatest(handle.db);
    audit = createAuditLog({ db: handle.db, logger, now: () => new Date(now) });
  });

  beforeEach(async () => {
    await handle.db.deleteFrom('audit_events').execute();
    lines.length = 0;
    now = T0;
  });

  afterAll(async () => {
    await handle?.close();
    await cleanup?.();
  });

  it('writes one row and one pino line of type audit per event, with the origin taken from the request', async () => {
    const account = await insertAccount(handle.db, { email: 'ada@example.com', name: null, password_hash: null, disabled_at: null });
    await audit.record(
      { type: 'sign_in', outcome: 'failure', reason: 'wrong_password', accountId: account.id, clientId: 'web-app', details: { amr: ['pwd'] } },
      request({ userAgent: `Evil\u001b[2J${'x'.repeat(400)}` }),
    );
    const rows = await handle.db.selectFrom('audit_events').selectAll().execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      type: 'sign_in',
      outcome: 'failure',
      account_id: account.id,
      client_id: 'web-app',
      ip: '203.0.113.9',
      request_id: 'req-123',
      details: { amr: ['pwd'], reason: 'wrong_password' },
    });
    expect(new Date(rows[0]!.occurred_at).toISOString()).toBe('2026-11-29T10:00:00.000Z');
    expect(rows[0]!.user_agent).toHaveLength(256);
    expect(rows[0]!.user_agent).toMatch(/^Evil\?\[2Jx+$/);

    expect(logged()).toHaveLength(1);
    expect(logged()[0]).toMatchObject({
      level: 30,
      type: 'audit',
      event: 'sign_in',
      outcome: 'failure',
      occurredAt: '2026-11-29T10:00:00.000Z',
      accountId: account.id,
      clientId: 'web-app',
      ip: '203.0.113.9',
      requestId: 'req-123',
      details: { amr: ['pwd'], reason: 'wrong_password' },
    });

    const [listed] = await listAuditTrail(handle.db, { account: 'ADA@example.com', limit: 10 });
    expect(listed).toMatchObject({ type: 'sign_in', account_email: 'ada@example.com', id: expect.stringMatching(/^\d+$/) });
  });

  it('takes the origin from a real Koa request: the trusted client IP and the request id behind a proxy', async () => {
    const koa = new Koa({ proxy: true, maxIpsCount: 1 });
    koa.use(requestContext(pino({ level: 'silent' }), true));
    koa.use(async (ctx) => {
      await audit.record({ type: 'sign_out', clientId: 'web-app' }, ctx);
      ctx.status = 204;
    });
    const server = koa.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const response = await fetch(`http://127.0.0.1:${port}/`, {
        headers: { 'X-Forwarded-For': '203.0.113.66, 198.51.100.7', 'X-Request-Id': 'proxy-req-1', 'User-Agent': 'UA/1.0' },
      });
      expect(response.status).toBe(204);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    const [row] = await handle.db.selectFrom('audit_events').selectAll().execute();
    // The rightmost hop is the one our proxy appended; the leftmost is whatever the client claimed.
    expect(row).toMatchObject({ type: 'sign_out', ip: '198.51.100.7', request_id: 'proxy-req-1', user_agent: 'UA/1.0', client_id: 'web-app' });
  });

  it('records without a request, defaulting to success, and never stores or logs a secret it was handed', async () => {
    const secrets = ['hunter2-hunter2-hunter2', '123456', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln', 'rt-0123456789abcdef'];
    await audit.record({
      type: 'password_changed',
      details: { password: secrets[0], code: secrets[1], note: secrets[2], refreshToken: secrets[3], method: 'form' },
    });
    const [row] = await handle.db.selectFrom('audit_events').selectAll().execute();
    expect(row).toMatchObject({ outcome: 'success', account_id: null, ip: null, user_agent: null, request_id: null });
    expect(row!.details).toEqual({ method: 'form', dropped: ['password', 'code', 'note', 'refreshToken'] });
    const everything = JSON.stringify(row) + lines.join('');
    for (const secret of secrets) expect(everything).not.toContain(secret);
    expect(logged().map((line) => line.msg)).toEqual(['audit details that looked secret or too large were dropped', 'audit']);
  });

  it('fails the action when the row cannot be written, and still logs the event at error level', async () => {
    // An account id that is not a uuid is refused by the column: a stand-in for a database that is down.
    const attempt = audit.record({ type: 'admin_user_disabled', accountId: 'not-a-uuid' }, request());
    await expect(attempt).rejects.toBeInstanceOf(AuditWriteError);
    await expect(attempt).rejects.toMatchObject({ status: 503, code: 'audit_unavailable' });
    expect(await handle.db.selectFrom('audit_events').selectAll().execute()).toHaveLength(0);
    expect(logged()).toEqual([expect.objectContaining({ level: 50, type: 'audit', event: 'admin_user_disabled', msg: 'audit event not recorded' })]);
  });

  it('lists by account, type and time, newest N oldest first, and follows with a cursor', async () => {
    const a = '00000000-0000-4000-8000-00000000000a';
    const b = '00000000-0000-4000-8000-00000000000b';
    for (let i = 0; i < 6; i++) {
      now = T0 + i * 60_000;
      await audit.record({ type: i % 2 ? 'sign_in' : 'mfa_verify', accountId: i < 3 ? a : b });
    }
    const all = await listAuditTrail(handle.db, { limit: 100 });
    expect(all.map((event) => event.occurred_at)).toEqual([0, 1, 2, 3, 4, 5].map((i) => new Date(T0 + i * 60_000).toISOString()));
    expect((await listAuditTrail(handle.db, { limit: 2 })).map((event) => event.id)).toEqual(all.slice(4).map((event) => event.id));
    expect((await listAuditTrail(handle.db, { account: a, limit: 100 })).map((event) => event.account_id)).toEqual([a, a, a]);
    expect((await listAuditTrail(handle.db, { type: 'sign_in', limit: 100 })).map((event) => event.id)).toEqual([1, 3, 5].map((i) => all[i]!.id));
    expect(await listAuditTrail(handle.db, { since: new Date(T0 + 4 * 60_000), account: b, limit: 100 })).toEqual(all.slice(4));
    expect(await listAuditTrail(handle.db, { afterId: all[3]!.id, limit: 100 })).toEqual(all.slice(4));
    expect(await listAuditTrail(handle.db, { afterId: all[1]!.id, limit: 1 })).toEqual([all[2]]);
    await expect(listAuditTrail(handle.db, { account: 'nobody@example.com', limit: 1 })).rejects.toThrow(/no account with email/);
  });

  it('deletes events past AUDIT_RETENTION_DAYS at the injected clock, in batches, and nothing younger', async () => {
    const insert = (occurredAt: number, count: number) => Promise.all(Array.from({ length: count }, () => insertAuditEvent(handle.db, event(occurredAt))));
    await insert(T0 - 400 * DAY, 7);
    await insert(T0 - 30 * DAY, 2);
    await insert(T0, 1);
    let clock = T0;
    const retention = createAuditRetention({ db: handle.db, logger, retentionDays: 365, clock: () => clock, batchSize: 3 });
    await expect(retention.purgeExpired()).resolves.toBe(7); // three batches: 3, 3, 1
    await expect(retention.purgeExpired()).resolves.toBe(0);
    clock = T0 + 340 * DAY; // the 30-day-old events are now 370 days old
    await expect(retention.purgeExpired()).resolves.toBe(2);
    const left = await handle.db.selectFrom('audit_events').select('occurred_at').execute();
    expect(left.map((row) => new Date(row.occurred_at).getTime())).toEqual([T0]);
    expect(logged().filter((line) => line.msg === 'audit events past retention deleted')).toHaveLength(2);
  });

  it('runs the cleanup when started and on its interval, and close() waits for a running pass', async () => {
    const clock = { now: T0 };
    const retention = createAuditRetention({ db: handle.db, logger: pino({ level: 'silent' }), retentionDays: 1, clock: () => clock.now });
    await insertAuditEvent(handle.db, event(T0 - 2 * DAY));
    retention.start(20);
    await retention.close(); // the pass started by start() has finished
    expect(await handle.db.selectFrom('audit_events').selectAll().execute()).toHaveLength(0);

    const ticking = createAuditRetention({ db: handle.db, logger: pino({ level: 'silent' }), retentionDays: 1, clock: () => clock.now });
    ticking.start(20);
    await insertAuditEvent(handle.db, event(T0));
    clock.now = T0 + 2 * DAY; // only the injected clock moves: the next tick finds the event expired
    for (let i = 0; i < 100 && (await handle.db.selectFrom('audit_events').selectAll().execute()).length > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await ticking.close();
    expect(await handle.db.selectFrom('audit_events').selectAll().execute()).toHaveLength(0);
  });
});

describe('the app', () => {
  // Two starts of an on-disk embedded store (events must exist before the app does): slow on a busy machine.
  const SLOW_MS = 120_000;

  it('exposes app.audit, and runs the retention job from start-up', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'gatehouse-audit-'));
    try {
      const config = loadConfig({ ...TEST_ENV, DATA_DIR: dataDir, AUDIT_RETENTION_DAYS: '30' });
      const before = await openDatabase(config.database);
      await migrateToLatest(before.db);
      await insertAuditEvent(before.db, event(T0 - 31 * DAY, 'sign_in'));
      await insertAuditEvent(before.db, event(T0 - 29 * DAY, 'mfa_verify'));
      await before.close();

      const app = await createApp(config, { logger: pino({ level: 'silent' }), clock: () => T0 });
      try {
        await app.audit.record({ type: 'sign_out', clientId: 'web-app' });
        const types = async () => (await app.db.selectFrom('audit_events').select('type').orderBy('occurred_at').execute()).map((row) => row.type);
        // The pass started with the app runs beside this test; it deletes only what is past 30 days at the app's clock.
        for (let i = 0; i < 200 && (await types()).includes('sign_in'); i++) await new Promise((resolve) => setTimeout(resolve, 50));
        expect(await types()).toEqual(['mfa_verify', 'sign_out']);
      } finally {
        await app.close();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }, SLOW_MS);
});
