import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import type { AdapterFactory } from '../../src/storage/oidc-adapter.ts';
import { findAccountByEmail } from '../../src/storage/postgres/accounts.queries.ts';
import { createPostgresAdapterFactory } from '../../src/storage/postgres/oidc-adapter.ts';
import { lockSignIn } from '../../src/storage/postgres/sign-in-lock.queries.ts';
import { createRedisAdapterFactory } from '../../src/storage/redis/oidc-adapter.ts';
import { TEST_ENV } from '../support/app.ts';
import { createTestDatabase, postgresUrl, redisUrl, uniqueName } from '../support/backends.ts';
import { gatehouse, withDb } from '../support/cli.ts';

type Env = Record<string, string>;

interface Backend {
  name: string;
  setup(): Promise<{ env: Env; cleanup: () => Promise<void> }>;
}

/** The embedded store in a folder of its own (the CLI and this test take turns holding its lock), or a Postgres database. */
const backends: Backend[] = [
  {
    name: 'the embedded store',
    async setup() {
      const dir = await mkdtemp(join(tmpdir(), 'gatehouse-cli-access-'));
      return { env: { ...TEST_ENV, DATA_DIR: dir }, cleanup: () => rm(dir, { recursive: true, force: true }) };
    },
  },
];
if (postgresUrl) {
  backends.push({
    name: 'Postgres',
    async setup() {
      const { url, drop } = await createTestDatabase();
      return { env: { ...TEST_ENV, DATABASE_URL: url }, cleanup: drop };
    },
  });
}

/** A session and a grant of the account, as oidc-provider stores them. */
async function issue(adapterFor: AdapterFactory, accountId: string): Promise<{ session: string; grant: string }> {
  const ids = { session: randomUUID(), grant: randomUUID() };
  await adapterFor('Session').upsert(ids.session, { uid: randomUUID(), accountId, kind: 'Session' }, 3600);
  await adapterFor('Grant').upsert(ids.grant, { accountId, clientId: 'web', kind: 'Grant' }, 3600);
  return ids;
}

/** `gatehouse user unlock` and `gatehouse user sessions revoke` (issue 7 admin), each with its admin_* audit event. */
describe.each(backends)('gatehouse user unlock / sessions revoke on $name', (backend) => {
  let env: Env;
  let cleanup: () => Promise<void>;
  let accountId: string;

  beforeAll(async () => {
    ({ env, cleanup } = await backend.setup());
    const added = await gatehouse(['user', 'add', '--email', 'Locked@example.com', '--password-stdin'], env, 'a long enough password for this');
    expect(added.code).toBe(0);
    accountId = await withDb(env, async (db) => {
      const row = (await findAccountByEmail(db, 'locked@example.com'))!;
      await db.updateTable('accounts').set({ failed_sign_ins: 100, sign_in_delay_until: new Date(Date.now() + 900_000) }).where('id', '=', row.id).execute();
      expect(await lockSignIn(db, row.id, new Date())).toBe(true);
      return row.id;
    });
  }, 60_000);

  afterAll(async () => {
    await cleanup?.();
  });

  it('unlocks a locked account, clears its count and delay, and records admin_user_unlocked', async () => {
    const result = await gatehouse(['user', 'unlock', '--email', 'LOCKED@example.com'], { ...env, USER: 'ops' });
    expect(result).toMatchObject({ code: 0, stdout: 'unlocked user Locked@example.com\n' });
    await withDb(env, async (db) => {
      const row = (await findAccountByEmail(db, 'locked@example.com'))!;
      expect(row).toMatchObject({ locked_at: null, failed_sign_ins: 0, sign_in_delay_until: null });
      const events = await db.selectFrom('audit_events').select(['type', 'account_id', 'details']).where('type', '=', 'admin_user_unlocked').execute();
      expect(events).toEqual([{ type: 'admin_user_unlocked', account_id: accountId, details: { was_locked: true, via: 'cli', os_user: 'ops' } }]);
    });
    // Again: nothing to lift, said so, still recorded.
    expect(await gatehouse(['user', 'unlock', '--email', 'locked@example.com'], env)).toMatchObject({ code: 0, stdout: 'user Locked@example.com was not locked; its failure count is cleared\n' });
  });

  it('refuses an unknown address (exit 1) and a missing --email (exit 2)', async () => {
    const unknown = await gatehouse(['user', 'unlock', '--email', 'nobody@example.com'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no account with email "nobody@example.com"');
    expect((await gatehouse(['user', 'unlock'], env)).code).toBe(2);
    expect((await gatehouse(['user', 'sessions', '--email', 'locked@example.com'], env)).code).toBe(2);
    expect((await gatehouse(['user', 'sessions', 'revoke'], env)).code).toBe(2);
  });

  it('revokes the sessions and grants kept in the database and records admin_sessions_revoked', async () => {
    const { mine, theirs } = await withDb(env, async (db) => ({ mine: await issue(createPostgresAdapterFactory(db), accountId), theirs: await issue(createPostgresAdapterFactory(db), randomUUID()) }));
    const result = await gatehouse(['user', 'sessions', 'revoke', '--email', 'locked@example.com'], env);
    expect(result).toMatchObject({ code: 0, stdout: 'revoked every session, grant and token of Locked@example.com\n' });
    await withDb(env, async (db) => {
      const adapterFor = createPostgresAdapterFactory(db);
      expect(await adapterFor('Session').find(mine.session)).toBeUndefined();
      expect(await adapterFor('Grant').find(mine.grant)).toBeUndefined();
      expect(await adapterFor('Session').find(theirs.session)).toBeDefined();
      const events = await db.selectFrom('audit_events').select(['account_id']).where('type', '=', 'admin_sessions_revoked').execute();
      expect(events).toEqual([{ account_id: accountId }]);
    });
  });

  if (redisUrl) it('revokes the sessions and grants kept in Redis when REDIS_URL is set', async () => {
    const prefix = `${uniqueName('gh_cli_revoke')}:`;
    const redis = new Redis(redisUrl!, { maxRetriesPerRequest: 1 });
    try {
      const adapterFor = createRedisAdapterFactory(redis, prefix);
      const mine = await issue(adapterFor, accountId);
      const theirs = await issue(adapterFor, randomUUID());
      const result = await gatehouse(['user', 'sessions', 'revoke', '--email', 'locked@example.com'], { ...env, REDIS_URL: redisUrl!, REDIS_KEY_PREFIX: prefix });
      expect(result.code).toBe(0);
      expect(await adapterFor('Session').find(mine.session)).toBeUndefined();
      expect(await adapterFor('Grant').find(mine.grant)).toBeUndefined();
      expect(await adapterFor('Session').find(theirs.session)).toBeDefined();
    } finally {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    }
  });
});
