import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { changeFeed, type ChangeFeed } from '../../src/storage/postgres/change-feed.ts';
import { CLIENTS_CHANGED, deleteClient, upsertClient } from '../../src/storage/postgres/clients.queries.ts';
import { startTestServer, TEST_ENV, type TestServer } from '../support/app.ts';
import { createTestDatabase, postgresUrl } from '../support/backends.ts';
import { gatehouseOk } from '../support/cli.ts';

/**
 * Running servers cache clients on Postgres (clients-adapter.ts), dropped when the clients table's
 * trigger notifies a change (change-feed.ts). What must hold: a change made anywhere reaches a running
 * server once its notification arrives, a change made through the server's own handle at once, a
 * rotated secret at once (before its notification), and nothing is cached where no notification comes.
 */

const SECRET = 'clients-cache-secret-0123456789-abcdefgh';
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

async function tokenStatus(server: TestServer, id: string, secret: string): Promise<number> {
  const response = await fetch(`${server.issuer}/token`, {
    method: 'POST',
    headers: { authorization: basic(id, secret), 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
  });
  await response.arrayBuffer();
  return response.status;
}

const service = (secret: string) => ({ client_id: 'svc', client_secret: secret, grant_types: ['client_credentials'], response_types: [], redirect_uris: [], token_endpoint_auth_method: 'client_secret_basic' });

/** Waits (bounded) until `ready` is true: a notification crosses a real connection, so it is awaited, not timed. */
async function until(ready: () => boolean, what: string): Promise<void> {
  for (let waited = 0; !ready(); waited += 10) {
    if (waited > 5_000) throw new Error(`gave up waiting: ${what}`);
    await sleep(10);
  }
}

describe('clients on the embedded store', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ DATA_DIR: 'memory://' });
  });
  afterAll(() => server?.close());

  it('are read from the table at every request: no notifications there, so no cache', async () => {
    expect(changeFeed(server.app.db, CLIENTS_CHANGED)).toBeUndefined();
    await upsertClient(server.app.db, 'svc', service(SECRET));
    expect(await tokenStatus(server, 'svc', SECRET)).toBe(200);
    await deleteClient(server.app.db, 'svc');
    expect(await tokenStatus(server, 'svc', SECRET)).toBe(401);
  });
});

if (postgresUrl) {
  describe('clients cached by a running server on Postgres', () => {
    let server: TestServer;
    let drop: () => Promise<void>;
    let env: Record<string, string>;
    let feed: ChangeFeed;

    beforeAll(async () => {
      const database = await createTestDatabase();
      drop = database.drop;
      env = { ...TEST_ENV, DATA_DIR: 'memory://', DATABASE_URL: database.url };
      server = await startTestServer(env);
      await upsertClient(server.app.db, 'svc', service(SECRET));
      expect(await tokenStatus(server, 'svc', SECRET)).toBe(200); // the first read starts listening
      feed = changeFeed(server.app.db, CLIENTS_CHANGED)!;
      await until(() => feed.listening, 'the server listens for client changes');
    });

    afterAll(async () => {
      await server?.close();
      await drop?.();
    });

    it('sees a change made through its own database handle at once', async () => {
      expect(await tokenStatus(server, 'svc', SECRET)).toBe(200);
      await upsertClient(server.app.db, 'svc', service(`${SECRET}-2`));
      expect(await tokenStatus(server, 'svc', SECRET)).toBe(401);
      expect(await tokenStatus(server, 'svc', `${SECRET}-2`)).toBe(200);
      await upsertClient(server.app.db, 'svc', service(SECRET));
    });

    it('accepts a secret rotated by the CLI at once, before the notification reaches it', async () => {
      await gatehouseOk(['client', 'add', '--id', 'rotating', '--secret', SECRET, '--grant-types', 'client_credentials'], env);
      expect(await tokenStatus(server, 'rotating', SECRET)).toBe(200);
      expect(await tokenStatus(server, 'rotating', SECRET)).toBe(200); // now from the cache
      const rotated = JSON.parse(await gatehouseOk(['client', 'rotate-secret', 'rotating', '--overlap', '0', '--json'], env)) as { client_secret: string };
      expect(await tokenStatus(server, 'rotating', rotated.client_secret)).toBe(200);
    });

    it('refuses a client the CLI removed once the notification arrived', async () => {
      await gatehouseOk(['client', 'add', '--id', 'leaving', '--secret', SECRET, '--grant-types', 'client_credentials'], env);
      expect(await tokenStatus(server, 'leaving', SECRET)).toBe(200);
      expect(await tokenStatus(server, 'leaving', SECRET)).toBe(200);
      const before = feed.generation;
      await gatehouseOk(['client', 'remove', 'leaving'], env);
      await until(() => feed.generation > before, 'the removal is notified');
      expect(await tokenStatus(server, 'leaving', SECRET)).toBe(401);
    });
  });
}
