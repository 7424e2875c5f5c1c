import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
// @ts-expect-error -- oidc-provider ships no type declarations; the factory is typed below.
import { createMemoryAdapter as createMemoryAdapterUntyped } from 'oidc-provider/lib/adapters/memory_adapter.js';
import { pino } from 'pino';
import type { AdapterFactory as ProviderAdapterFactory } from 'oidc-provider';
import type { DatabaseConfig } from '../../src/config/load.ts';
import type { AdapterFactory, AdapterPayload } from '../../src/storage/oidc-adapter.ts';
import { openDatabase } from '../../src/storage/postgres/db.ts';
import type { Db } from '../../src/storage/postgres/db.ts';
import { migrateToLatest } from '../../src/storage/postgres/migrate.ts';
import { createPostgresAdapterFactory } from '../../src/storage/postgres/oidc-adapter.ts';
import { deleteExpiredPayloads } from '../../src/storage/postgres/oidc-payloads.queries.ts';
import { createRedisClient } from '../../src/storage/redis/client.ts';
import { createRedisAdapterFactory } from '../../src/storage/redis/oidc-adapter.ts';
import { loadRevocationEpoch, withRevocationEpoch } from '../../src/storage/revocation-epoch.ts';
import { postgresBackend, redisUrl, uniqueName } from '../support/backends.ts';

const createMemoryAdapter = createMemoryAdapterUntyped as (clockTolerance?: number) => AdapterFactory;

/** Compile-time pin: our factories plug into oidc-provider's `adapter` option without a cast. */
const pluggable: AdapterFactory extends ProviderAdapterFactory ? true : never = true;
void pluggable;

type IndexKind = 'sessionUid' | 'userCode' | 'grant';

/** One opened backend; the probes look inside the store where the port cannot (absent for the reference). */
interface Harness {
  adapterFor: AdapterFactory;
  hasIndexEntry?: (kind: IndexKind, value: string) => Promise<boolean>;
  grantIndexTtl?: (grantId: string) => Promise<number>;
  db?: Db;
  /** Redis only: the client and key prefix, to write a record as an earlier version stored it. */
  raw?: { redis: ReturnType<typeof createRedisClient>; prefix: string };
  close(): Promise<void>;
}

interface Backend {
  name: string;
  /** Our adapters; the memory adapter is the reference they are pinned against (all but `consume`). */
  ours: boolean;
  open(): Promise<Harness>;
}

async function openSql(config: DatabaseConfig, cleanup: () => Promise<void>): Promise<Harness> {
  const handle = await openDatabase(config);
  await migrateToLatest(handle.db);
  const column = { sessionUid: 'uid', userCode: 'user_code', grant: 'grant_id' } as const;
  return {
    adapterFor: createPostgresAdapterFactory(handle.db),
    db: handle.db,
    async hasIndexEntry(kind, value) {
      const rows = await handle.db.selectFrom('oidc_payloads').select('id').where(column[kind], '=', value).execute();
      return rows.length > 0;
    },
    async close() {
      await handle.close();
      await cleanup();
    },
  };
}

const backends: Backend[] = [
  {
    name: 'memory adapter (reference)',
    ours: false,
    open: async () => ({ adapterFor: createMemoryAdapter(), close: async () => {} }),
  },
  {
    name: 'embedded PGlite',
    ours: true,
    open: () => openSql({ kind: 'embedded', dataDir: 'memory://' }, async () => {}),
  },
  {
    // What the app plugs in: the same store behind the revocation epoch (REL-F13), as on a fresh install
    // (test/contract/revocation-epoch.contract.test.ts covers a moved epoch).
    name: 'embedded PGlite behind the revocation epoch',
    ours: true,
    async open() {
      const harness = await openSql({ kind: 'embedded', dataDir: 'memory://' }, async () => {});
      const epoch = await loadRevocationEpoch(harness.db!, 60, pino({ level: 'silent' }));
      return { ...harness, adapterFor: withRevocationEpoch(harness.adapterFor, epoch) };
    },
  },
];
if (process.env.DATABASE_URL) {
  backends.push({
    name: 'Postgres',
    ours: true,
    async open() {
      const { config, cleanup } = await postgresBackend.setup();
      return openSql(config, cleanup);
    },
  });
}
if (redisUrl) {
  const url = redisUrl;
  backends.push({
    name: 'Redis',
    ours: true,
    async open() {
      const redis = createRedisClient(url);
      const prefix = `${uniqueName('gh')}:`;
      return {
        adapterFor: createRedisAdapterFactory(redis, prefix),
        hasIndexEntry: async (kind, value) => (await redis.exists(`${prefix}${kind}:${value}`)) === 1,
        grantIndexTtl: (grantId) => redis.ttl(`${prefix}grant:${grantId}`),
        raw: { redis, prefix },
        async close() {
          const keys = await redis.keys(`${prefix}*`);
          if (keys.length > 0) await redis.del(...keys);
          await redis.quit();
        },
      };
    },
  });
}

const epochNow = () => Math.floor(Date.now() / 1000);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A realistic token payload: nested objects and arrays must survive the round trip. */
function tokenPayload(grantId: string, extra: AdapterPayload = {}): AdapterPayload & { jti: string } {
  const jti = randomUUID();
  const iat = epochNow();
  return { jti, iat, exp: iat + 600, grantId, clientId: 'app', accountId: 'acc-1', scope: 'openid email',
    claims: { id_token: { email: null } }, resource: ['https://api.example'], expiresWithSession: true, ...extra };
}

describe.each(backends)('OIDC adapter contract: $name', (backend) => {
  let harness: Harness;
  const adapter = (model: string) => harness.adapterFor(model);

  beforeAll(async () => {
    harness = await backend.open();
  });
  afterAll(async () => {
    await harness?.close();
  });

  it('finds what it upserted, deep-equal, and nothing for unknown ids', async () => {
    const payload = tokenPayload(randomUUID());
    await adapter('AccessToken').upsert(payload.jti, payload, 60);
    expect(await adapter('AccessToken').find(payload.jti)).toEqual(payload);
    expect(await adapter('RefreshToken').find(payload.jti)).toBeUndefined(); // ids are per model
    expect(await adapter('AccessToken').find(randomUUID())).toBeUndefined();
    expect(await adapter('Session').findByUid(randomUUID())).toBeUndefined();
    expect(await adapter('DeviceCode').findByUserCode('NO-SUCH')).toBeUndefined();
  });

  it('finds a session by uid and a device code by user code', async () => {
    const session = { jti: randomUUID(), uid: randomUUID(), accountId: 'acc-1', loginTs: epochNow() };
    await adapter('Session').upsert(session.jti, session, 60);
    expect(await adapter('Session').findByUid(session.uid)).toEqual(session);
    const device = tokenPayload(randomUUID(), { userCode: `UC-${randomUUID()}` });
    await adapter('DeviceCode').upsert(device.jti, device, 60);
    expect(await adapter('DeviceCode').findByUserCode(device.userCode as string)).toEqual(device);
  });

  it('overwrites on upsert and re-indexes: old uid, userCode and grant no longer lead to it', async () => {
    const id = randomUUID();
    const [oldUid, newUid] = [randomUUID(), randomUUID()];
    await adapter('Session').upsert(id, { jti: id, uid: oldUid }, 60);
    await adapter('Session').upsert(id, { jti: id, uid: newUid, accountId: 'acc-2' }, 60);
    expect(await adapter('Session').findByUid(oldUid)).toBeUndefined();
    expect(await adapter('Session').findByUid(newUid)).toEqual({ jti: id, uid: newUid, accountId: 'acc-2' });

    const [oldGrant, newGrant] = [randomUUID(), randomUUID()];
    const device = tokenPayload(oldGrant, { userCode: `UC-${randomUUID()}` });
    const moved = { ...device, grantId: newGrant, userCode: `UC-${randomUUID()}` };
    await adapter('DeviceCode').upsert(device.jti, device, 60);
    await adapter('DeviceCode').upsert(device.jti, moved, 60);
    expect(await adapter('DeviceCode').findByUserCode(device.userCode as string)).toBeUndefined();
    expect(await adapter('DeviceCode').find(device.jti)).toEqual(moved);
    await adapter('DeviceCode').revokeByGrantId(oldGrant);
    expect(await adapter('DeviceCode').find(device.jti)).toEqual(moved);
    await adapter('DeviceCode').revokeByGrantId(newGrant);
    expect(await adapter('DeviceCode').find(device.jti)).toBeUndefined();
  });

  it('consume sets `consumed` in epoch seconds and the record stays findable', async () => {
    const code = tokenPayload(randomUUID());
    await adapter('AuthorizationCode').upsert(code.jti, code, 60);
    const before = epochNow();
    await adapter('AuthorizationCode').consume(code.jti);
    const found = await adapter('AuthorizationCode').find(code.jti);
    expect(found).toEqual({ ...code, consumed: expect.any(Number) });
    expect(found?.consumed).toBeGreaterThanOrEqual(before - 1);
    expect(found?.consumed).toBeLessThanOrEqual(epochNow() + 1);

    const stored = { ...tokenPayload(randomUUID()), consumed: 1_700_000_000 };
    await adapter('RefreshToken').upsert(stored.jti, stored, 60);
    expect(await adapter('RefreshToken').find(stored.jti)).toEqual(stored);
  });

  it('destroy removes the record and its uid and userCode index entries', async () => {
    const session = { jti: randomUUID(), uid: randomUUID() };
    const device = tokenPayload(randomUUID(), { userCode: `UC-${randomUUID()}` });
    await adapter('Session').upsert(session.jti, session, 60);
    await adapter('DeviceCode').upsert(device.jti, device, 60);
    await adapter('Session').destroy(session.jti);
    await adapter('DeviceCode').destroy(device.jti);
    expect(await adapter('Session').find(session.jti)).toBeUndefined();
    expect(await adapter('Session').findByUid(session.uid)).toBeUndefined();
    expect(await adapter('DeviceCode').findByUserCode(device.userCode as string)).toBeUndefined();
    expect(await harness.hasIndexEntry?.('sessionUid', session.uid)).not.toBe(true);
    expect(await harness.hasIndexEntry?.('userCode', device.userCode as string)).not.toBe(true);
    await adapter('Session').destroy(randomUUID()); // unknown id: a no-op
  });

  it('revokeByGrantId removes every grantable record of the grant, across models, and its index', async () => {
    const [grantId, otherGrantId] = [randomUUID(), randomUUID()];
    const records = [
      ['AccessToken', tokenPayload(grantId)],
      ['RefreshToken', tokenPayload(grantId)],
      ['AuthorizationCode', tokenPayload(grantId)],
      ['DeviceCode', tokenPayload(grantId, { userCode: `UC-${randomUUID()}` })],
      ['AccessToken', tokenPayload(otherGrantId)],
    ] as const;
    for (const [model, payload] of records) await adapter(model).upsert(payload.jti, payload, 60);
    await adapter('AccessToken').revokeByGrantId(grantId);
    for (const [model, payload] of records.slice(0, 4)) expect(await adapter(model).find(payload.jti)).toBeUndefined();
    expect(await adapter('DeviceCode').findByUserCode(records[3][1].userCode as string)).toBeUndefined();
    expect(await adapter('AccessToken').find(records[4][1].jti)).toEqual(records[4][1]);
    expect(await harness.hasIndexEntry?.('grant', grantId)).not.toBe(true);
    expect(await harness.hasIndexEntry?.('grant', otherGrantId)).not.toBe(false);
  });

  it('forgets a record (and its indexes) after expiresIn, and keeps one upserted without expiresIn', async () => {
    const [shortLived, forever] = [tokenPayload(randomUUID()), tokenPayload(randomUUID())];
    const session = { jti: randomUUID(), uid: randomUUID() };
    await adapter('AccessToken').upsert(shortLived.jti, shortLived, 1);
    await adapter('Session').upsert(session.jti, session, 1);
    await adapter('AccessToken').upsert(forever.jti, forever);
    expect(await adapter('AccessToken').find(shortLived.jti)).toEqual(shortLived);
    await sleep(1_500);
    expect(await adapter('AccessToken').find(shortLived.jti)).toBeUndefined();
    expect(await adapter('Session').findByUid(session.uid)).toBeUndefined();
    expect(await adapter('AccessToken').find(forever.jti)).toEqual(forever);
  });

  if (!backend.ours) {
    it('reference: the memory adapter lets a second consume overwrite silently (why ours differ)', async () => {
      const code = tokenPayload(randomUUID());
      await adapter('AuthorizationCode').upsert(code.jti, code, 60);
      await adapter('AuthorizationCode').consume(code.jti);
      await expect(adapter('AuthorizationCode').consume(code.jti)).resolves.toBeUndefined();
    });
    return;
  }

  // The strict consume rule (see rejectConsume in src/storage/oidc-adapter.ts): our backends only.
  it('a second consume throws invalid_grant and revokes the grant: its tokens and the Grant record', async () => {
    const [grantId, otherGrantId] = [randomUUID(), randomUUID()];
    const code = tokenPayload(grantId);
    const accessToken = tokenPayload(grantId);
    const otherToken = tokenPayload(otherGrantId);
    await adapter('Grant').upsert(grantId, { jti: grantId, accountId: 'acc-1', clientId: 'app' }, 600);
    await adapter('Grant').upsert(otherGrantId, { jti: otherGrantId, accountId: 'acc-1', clientId: 'app' }, 600);
    await adapter('AuthorizationCode').upsert(code.jti, code, 60);
    await adapter('AccessToken').upsert(accessToken.jti, accessToken, 60);
    await adapter('AccessToken').upsert(otherToken.jti, otherToken, 60);

    await adapter('AuthorizationCode').consume(code.jti);
    await expect(adapter('AuthorizationCode').consume(code.jti)).rejects.toMatchObject({
      error: 'invalid_grant',
      status: 400,
    });
    expect(await adapter('AccessToken').find(accessToken.jti)).toBeUndefined();
    expect(await adapter('AuthorizationCode').find(code.jti)).toBeUndefined();
    expect(await adapter('Grant').find(grantId)).toBeUndefined();
    expect(await adapter('AccessToken').find(otherToken.jti)).toEqual(otherToken);
    expect(await adapter('Grant').find(otherGrantId)).toBeDefined();
  });

  it('of 10 parallel consumes of one fresh code exactly 1 succeeds, 9 fail with invalid_grant', async () => {
    const code = tokenPayload(randomUUID());
    await adapter('AuthorizationCode').upsert(code.jti, code, 60);
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => adapter('AuthorizationCode').consume(code.jti)));
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
    const reasons = results.flatMap((result) => (result.status === 'rejected' ? [result.reason] : []));
    expect(reasons).toHaveLength(9);
    for (const reason of reasons) expect(reason).toMatchObject({ error: 'invalid_grant' });
  });

  it('consume of an unknown (or expired) id throws invalid_grant and touches nothing else', async () => {
    const token = tokenPayload(randomUUID());
    await adapter('AccessToken').upsert(token.jti, token, 60);
    await expect(adapter('AuthorizationCode').consume(randomUUID())).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(await adapter('AccessToken').find(token.jti)).toEqual(token);
  });

  if (backend.name === 'Redis') {
    it('keeps the grant index alive as long as its longest-lived member', async () => {
      const grantId = randomUUID();
      const [short, long] = [tokenPayload(grantId), tokenPayload(grantId)];
      await adapter('AccessToken').upsert(long.jti, long, 600);
      await adapter('AuthorizationCode').upsert(short.jti, short, 60);
      expect(await harness.grantIndexTtl?.(grantId)).toBeGreaterThan(590);
      await adapter('RefreshToken').upsert(randomUUID(), tokenPayload(grantId));
      expect(await harness.grantIndexTtl?.(grantId)).toBe(-1); // a member that never expires
    });

    it('takes over records stored before the index fields: an overwrite and a destroy still undo their old indexes', async () => {
      const { redis, prefix } = harness.raw!;
      // As the earlier version stored a session: the JSON alone, and its uid and account index entries.
      const [sessionId, oldUid, newUid] = [randomUUID(), randomUUID(), randomUUID()];
      const session = { kind: 'Session', uid: oldUid, accountId: 'acc-legacy', exp: epochNow() + 600 };
      await redis.hset(`${prefix}Session:${sessionId}`, { payload: JSON.stringify(session) });
      await redis.set(`${prefix}sessionUid:${oldUid}`, sessionId, 'EX', 600);
      await redis.sadd(`${prefix}account:acc-legacy`, `${prefix}Session:${sessionId}`);
      await adapter('Session').upsert(sessionId, { ...session, uid: newUid, accountId: 'acc-other' }, 600);
      expect(await harness.hasIndexEntry?.('sessionUid', oldUid)).toBe(false);
      expect(await redis.sismember(`${prefix}account:acc-legacy`, `${prefix}Session:${sessionId}`)).toBe(0);
      expect(await adapter('Session').findByUid(newUid)).toEqual({ ...session, uid: newUid, accountId: 'acc-other' });
      // Now in the current form: the next overwrite and the destroy run as one script each.
      expect(await redis.hget(`${prefix}Session:${sessionId}`, 'v')).toBe('2');

      const [codeId, userCode] = [randomUUID(), 'LEGACY-CODE'];
      const device = { kind: 'DeviceCode', userCode, grantId: 'g-legacy', exp: epochNow() + 600 };
      await redis.hset(`${prefix}DeviceCode:${codeId}`, { payload: JSON.stringify(device) });
      await redis.set(`${prefix}userCode:${userCode}`, codeId, 'EX', 600);
      await adapter('DeviceCode').destroy(codeId);
      expect(await harness.hasIndexEntry?.('userCode', userCode)).toBe(false);
      expect(await adapter('DeviceCode').find(codeId)).toBeUndefined();
    });
  }

  if (backend.name !== 'Redis') {
    // Last in the suite: it deletes every row expiring within two minutes.
    it('deleteExpiredPayloads removes only rows expired at the given time', async () => {
      const db = harness.db as Db;
      const [soon, later, never] = [tokenPayload(randomUUID()), tokenPayload(randomUUID()), tokenPayload(randomUUID())];
      await adapter('AccessToken').upsert(soon.jti, soon, 60);
      await adapter('AccessToken').upsert(later.jti, later, 3_600);
      await adapter('AccessToken').upsert(never.jti, never);
      expect(await deleteExpiredPayloads(db, new Date(Date.now() + 120_000))).toBeGreaterThanOrEqual(1);
      const ids = (await db.selectFrom('oidc_payloads').select('id').execute()).map((row) => row.id);
      expect(ids).not.toContain(soon.jti);
      expect(ids).toEqual(expect.arrayContaining([later.jti, never.jti]));
    });
  }
});
