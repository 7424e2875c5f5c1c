import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { AccountRevoker, AdapterFactory } from '../../src/storage/oidc-adapter.ts';
import { openDatabase } from '../../src/storage/postgres/db.ts';
import { migrateToLatest } from '../../src/storage/postgres/migrate.ts';
import { createPostgresAccountRevoker, createPostgresAdapterFactory } from '../../src/storage/postgres/oidc-adapter.ts';
import { createRedisClient } from '../../src/storage/redis/client.ts';
import { createRedisAccountRevoker, createRedisAdapterFactory } from '../../src/storage/redis/oidc-adapter.ts';
import { postgresBackend, redisUrl, uniqueName } from '../support/backends.ts';

interface Store {
  adapterFor: AdapterFactory;
  revoker: AccountRevoker;
  close(): Promise<void>;
}

async function sqlStore(config: Parameters<typeof openDatabase>[0], cleanup: () => Promise<void>): Promise<Store> {
  const handle = await openDatabase(config);
  await migrateToLatest(handle.db);
  return {
    adapterFor: createPostgresAdapterFactory(handle.db),
    revoker: createPostgresAccountRevoker(handle.db),
    async close() {
      await handle.close();
      await cleanup();
    },
  };
}

const stores: Array<[string, () => Promise<Store>]> = [['embedded PGlite', () => sqlStore({ kind: 'embedded', dataDir: 'memory://' }, async () => {})]];
if (process.env.DATABASE_URL) {
  stores.push(['Postgres', async () => {
    const { config, cleanup } = await postgresBackend.setup();
    return sqlStore(config, cleanup);
  }]);
}
if (redisUrl) {
  stores.push(['Redis', async () => {
    const redis = createRedisClient(redisUrl!);
    const prefix = `${uniqueName('gh')}:`;
    return {
      adapterFor: createRedisAdapterFactory(redis, prefix),
      revoker: createRedisAccountRevoker(redis, prefix),
      async close() {
        const keys = await redis.keys(`${prefix}*`);
        if (keys.length) await redis.del(...keys);
        redis.disconnect();
      },
    };
  }]);
}

/** REC-06's storage half: revoking an account removes its sessions, grants, codes and tokens, and nobody else's. */
describe.each(stores)('account revocation on %s', (_name, open) => {
  let store: Store;

  beforeAll(async () => {
    store = await open();
  });

  afterAll(async () => {
    await store?.close();
  });

  async function issueEverything(accountId: string) {
    const grantId = randomUUID();
    const ids = { session: randomUUID(), uid: randomUUID(), grant: grantId, access: randomUUID(), refresh: randomUUID(), code: randomUUID() };
    await store.adapterFor('Session').upsert(ids.session, { uid: ids.uid, accountId, kind: 'Session' }, 3600);
    await store.adapterFor('Grant').upsert(ids.grant, { accountId, clientId: 'c', kind: 'Grant' }, 3600);
    await store.adapterFor('AccessToken').upsert(ids.access, { accountId, grantId, kind: 'AccessToken' }, 3600);
    await store.adapterFor('RefreshToken').upsert(ids.refresh, { accountId, grantId, kind: 'RefreshToken' });
    await store.adapterFor('AuthorizationCode').upsert(ids.code, { accountId, grantId, kind: 'AuthorizationCode' }, 60);
    return ids;
  }

  it('removes every session, grant, code and token of the account and leaves other accounts alone', async () => {
    const victim = await issueEverything('account-a');
    const bystander = await issueEverything('account-b');
    await store.revoker.revokeAccount('account-a');

    await expect(store.adapterFor('Session').find(victim.session)).resolves.toBeUndefined();
    await expect(store.adapterFor('Session').findByUid(victim.uid)).resolves.toBeUndefined();
    await expect(store.adapterFor('Grant').find(victim.grant)).resolves.toBeUndefined();
    await expect(store.adapterFor('AccessToken').find(victim.access)).resolves.toBeUndefined();
    await expect(store.adapterFor('RefreshToken').find(victim.refresh)).resolves.toBeUndefined();
    await expect(store.adapterFor('AuthorizationCode').find(victim.code)).resolves.toBeUndefined();

    await expect(store.adapterFor('Session').find(bystander.session)).resolves.toMatchObject({ accountId: 'account-b' });
    await expect(store.adapterFor('RefreshToken').find(bystander.refresh)).resolves.toMatchObject({ accountId: 'account-b' });
  });

  it("follows a session that changed hands: revoking the old account does not end the new owner's session", async () => {
    const sessionId = randomUUID();
    await store.adapterFor('Session').upsert(sessionId, { uid: randomUUID(), accountId: 'first-owner' }, 3600);
    await store.adapterFor('Session').upsert(sessionId, { uid: randomUUID(), accountId: 'second-owner' }, 3600);
    await store.revoker.revokeAccount('first-owner');
    await expect(store.adapterFor('Session').find(sessionId)).resolves.toMatchObject({ accountId: 'second-owner' });
    await store.revoker.revokeAccount('second-owner');
    await expect(store.adapterFor('Session').find(sessionId)).resolves.toBeUndefined();
  });

  it('is a no-op for an account with nothing stored', async () => {
    await expect(store.revoker.revokeAccount('nobody')).resolves.toBeUndefined();
  });
});
