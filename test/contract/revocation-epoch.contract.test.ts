import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import type { DatabaseConfig } from '../../src/config/load.ts';
import type { AdapterFactory, AdapterPayload } from '../../src/storage/oidc-adapter.ts';
import { openDatabase, type Db } from '../../src/storage/postgres/db.ts';
import { migrateToLatest } from '../../src/storage/postgres/migrate.ts';
import { createPostgresAdapterFactory } from '../../src/storage/postgres/oidc-adapter.ts';
import { advanceRevocationEpoch, findRevocationEpoch } from '../../src/storage/postgres/revocation-epoch.queries.ts';
import { createRedisClient } from '../../src/storage/redis/client.ts';
import { createRedisAdapterFactory } from '../../src/storage/redis/oidc-adapter.ts';
import { cutoffOf, issuedBeforeEpoch, loadRevocationEpoch, withRevocationEpoch, type CachedRevocationEpoch } from '../../src/storage/revocation-epoch.ts';
import { postgresBackend, redisUrl, uniqueName } from '../support/backends.ts';

/*
 * REL-F13, the storage side: the revocation epoch in the database hides every record issued before it
 * from the oidc-provider adapter, whichever store holds the records (the database itself, or Redis with
 * the epoch in the database), and costs no database read per adapter call.
 */

interface Harness {
  /** Where the epoch lives. */
  db: Db;
  /** The store's own adapters, without the epoch. */
  models: AdapterFactory;
  close(): Promise<void>;
}

async function openSql(config: DatabaseConfig, cleanup: () => Promise<void>): Promise<{ db: Db; close(): Promise<void> }> {
  const handle = await openDatabase(config);
  await migrateToLatest(handle.db);
  return {
    db: handle.db,
    async close() {
      await handle.close();
      await cleanup();
    },
  };
}

const backends: Array<{ name: string; open(): Promise<Harness> }> = [
  {
    name: 'embedded PGlite',
    async open() {
      const sql = await openSql({ kind: 'embedded', dataDir: 'memory://' }, async () => {});
      return { ...sql, models: createPostgresAdapterFactory(sql.db) };
    },
  },
];
if (process.env.DATABASE_URL) {
  backends.push({
    name: 'Postgres',
    async open() {
      const { config, cleanup } = await postgresBackend.setup();
      const sql = await openSql(config, cleanup);
      return { ...sql, models: createPostgresAdapterFactory(sql.db) };
    },
  });
}
if (redisUrl) {
  const url = redisUrl;
  backends.push({
    name: 'Redis (epoch in the embedded store)',
    async open() {
      const sql = await openSql({ kind: 'embedded', dataDir: 'memory://' }, async () => {});
      const redis = createRedisClient(url);
      const prefix = `${uniqueName('gh_epoch')}:`;
      return {
        db: sql.db,
        models: createRedisAdapterFactory(redis, prefix),
        async close() {
          const keys = await redis.keys(`${prefix}*`);
          if (keys.length > 0) await redis.del(...keys);
          await redis.quit();
          await sql.close();
        },
      };
    },
  });
}

const REFRESH_SECONDS = 1;
const epochNow = () => Math.floor(Date.now() / 1000);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every model oidc-provider stores through the adapter, except ReplayDetection (tested on its own) and Client (not in these stores). */
const MODELS = [
  'Session',
  'Interaction',
  'Grant',
  'AuthorizationCode',
  'RefreshToken',
  'AccessToken',
  'ClientCredentials',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'PushedAuthorizationRequest',
  'PreAuthorizedCode',
  'RegistrationAccessToken',
  'InitialAccessToken',
] as const;

function record(model: string, iat: number | undefined): AdapterPayload & { jti: string } {
  const jti = randomUUID();
  const payload: AdapterPayload & { jti: string } = { jti, kind: model, exp: epochNow() + 600, grantId: randomUUID(), accountId: 'acc-1', clientId: 'app' };
  if (iat !== undefined) payload.iat = iat;
  if (model === 'Session') payload.uid = randomUUID();
  if (model === 'DeviceCode') payload.userCode = `UC-${randomUUID()}`;
  return payload;
}

describe.each(backends)('revocation epoch over the oidc-provider adapter: $name', (backend) => {
  let harness: Harness;
  let epoch: CachedRevocationEpoch;
  let adapterFor: AdapterFactory;
  /** Written before any test moves the epoch: an hour old, as in a restored backup. */
  const old = MODELS.map((model) => [model, record(model, epochNow() - 3600)] as const);

  beforeAll(async () => {
    harness = await backend.open();
    epoch = await loadRevocationEpoch(harness.db, REFRESH_SECONDS, pino({ level: 'silent' }));
    adapterFor = withRevocationEpoch(harness.models, epoch);
    for (const [model, payload] of old) await adapterFor(model).upsert(payload.jti, payload, 600);
  });

  afterAll(async () => {
    epoch?.stop();
    await harness?.close();
  });

  it('hides nothing while the epoch was never moved (a fresh install), not even a record without iat', async () => {
    expect(epoch.cutoff()).toBe(0);
    for (const [model, payload] of old) expect(await adapterFor(model).find(payload.jti)).toEqual(payload);
    const bare = { jti: randomUUID(), uid: randomUUID() };
    await adapterFor('Session').upsert(bare.jti, bare, 60);
    expect(await adapterFor('Session').findByUid(bare.uid)).toEqual(bare);
  });

  it('once moved, reads every record issued before it as absent, by id, session uid and user code; later ones are found', async () => {
    const moved = await advanceRevocationEpoch(harness.db);
    expect(await epoch.refresh()).toBe(true);
    expect(epoch.cutoff()).toBe(cutoffOf(moved));

    const fresh = MODELS.map((model) => [model, record(model, epoch.cutoff())] as const);
    for (const [model, payload] of fresh) await adapterFor(model).upsert(payload.jti, payload, 600);
    for (const [model, payload] of old) {
      expect(await adapterFor(model).find(payload.jti)).toBeUndefined();
      expect(await harness.models(model).find(payload.jti)).toEqual(payload); // hidden, not deleted
    }
    for (const [model, payload] of fresh) expect(await adapterFor(model).find(payload.jti)).toEqual(payload);

    const of = (records: typeof old, model: string) => records.find(([name]) => name === model)![1];
    const [oldSession, freshSession] = [of(old, 'Session'), of(fresh, 'Session')];
    expect(await adapterFor('Session').findByUid(oldSession.uid as string)).toBeUndefined();
    expect(await adapterFor('Session').findByUid(freshSession.uid as string)).toEqual(freshSession);
    const [oldDevice, freshDevice] = [of(old, 'DeviceCode'), of(fresh, 'DeviceCode')];
    expect(await adapterFor('DeviceCode').findByUserCode(oldDevice.userCode as string)).toBeUndefined();
    expect(await adapterFor('DeviceCode').findByUserCode(freshDevice.userCode as string)).toEqual(freshDevice);
  });

  it('hides a record without iat once the epoch has moved (unknown age is not proof of being new)', async () => {
    const bare = { jti: randomUUID(), uid: randomUUID() };
    await adapterFor('Session').upsert(bare.jti, bare, 60);
    expect(await adapterFor('Session').find(bare.jti)).toBeUndefined();
  });

  it('keeps old ReplayDetection records: a client assertion or DPoP proof seen before stays refused', async () => {
    const seen = { jti: randomUUID(), iss: 'app', iat: epochNow() - 3600 };
    await harness.models('ReplayDetection').upsert(seen.jti, seen, 600);
    expect(await adapterFor('ReplayDetection').find(seen.jti)).toEqual(seen);
  });

  it('records issued after the epoch keep the adapter contract: one consume, a second fails and revokes the grant', async () => {
    const grantId = randomUUID();
    const code = { ...record('AuthorizationCode', epoch.cutoff()), grantId };
    const token = { ...record('AccessToken', epoch.cutoff()), grantId };
    await adapterFor('Grant').upsert(grantId, { jti: grantId, iat: epoch.cutoff(), accountId: 'acc-1', clientId: 'app' }, 600);
    await adapterFor('AuthorizationCode').upsert(code.jti, code, 60);
    await adapterFor('AccessToken').upsert(token.jti, token, 60);
    await adapterFor('AuthorizationCode').consume(code.jti);
    expect(await adapterFor('AuthorizationCode').find(code.jti)).toEqual({ ...code, consumed: expect.any(Number) });
    await expect(adapterFor('AuthorizationCode').consume(code.jti)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(await adapterFor('AccessToken').find(token.jti)).toBeUndefined();
    expect(await adapterFor('Grant').find(grantId)).toBeUndefined();
  });

  it('costs no database read per call: a move is seen at the next timed re-read, within REVOCATION_EPOCH_REFRESH_SECONDS', async () => {
    epoch.start();
    // Issued after the current epoch, before the next one.
    await sleep(Math.max(0, epoch.cutoff() * 1000 - Date.now()));
    const token = record('RefreshToken', epochNow());
    await adapterFor('RefreshToken').upsert(token.jti, token, 600);

    const moved = await advanceRevocationEpoch(harness.db);
    const movedAt = Date.now();
    // The adapter still answers from the cached epoch: it did not read the new one.
    expect(await adapterFor('RefreshToken').find(token.jti)).toEqual(token);
    while (epoch.cutoff() !== cutoffOf(moved)) {
      expect(Date.now() - movedAt).toBeLessThan(REFRESH_SECONDS * 1000 + 500);
      await sleep(10);
    }
    expect(await adapterFor('RefreshToken').find(token.jti)).toBeUndefined();
  });

  it('never moves back: a later command with a slower clock keeps the later epoch', async () => {
    const ahead = new Date(Date.now() + 3_600_000);
    await harness.db.updateTable('revocation_epoch').set({ revoked_before: ahead }).execute();
    expect((await advanceRevocationEpoch(harness.db)).getTime()).toBe(ahead.getTime());
    expect((await findRevocationEpoch(harness.db)).getTime()).toBe(ahead.getTime());
  });
});

describe('the cut-off second', () => {
  it('refuses a record issued earlier in the epoch\'s own second, and one issued later in it (iat is whole seconds)', () => {
    const cutoff = cutoffOf(new Date(1_800_000_000_500));
    expect(cutoff).toBe(1_800_000_001);
    expect(issuedBeforeEpoch({ iat: 1_800_000_000 }, cutoff)).toBe(true);
    expect(issuedBeforeEpoch({ iat: 1_800_000_001 }, cutoff)).toBe(false);
  });

  it('is the epoch itself when that is a whole second', () => {
    const cutoff = cutoffOf(new Date(1_800_000_000_000));
    expect(issuedBeforeEpoch({ iat: 1_799_999_999 }, cutoff)).toBe(true);
    expect(issuedBeforeEpoch({ iat: 1_800_000_000 }, cutoff)).toBe(false);
  });
});
