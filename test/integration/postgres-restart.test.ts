import { createServer, type AddressInfo, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { isStoreUnavailable } from '../../src/storage/unavailable.ts';
import { guardedPool } from '../../src/storage/postgres/guarded-pool.ts';
import { pendingMigrations } from '../../src/storage/postgres/migrate.ts';
import { startTestServer, type TestServer } from '../support/app.ts';
import { postgresUrl } from '../support/backends.ts';
import { UserAgent } from '../support/browserless.ts';
import { REDIRECT_URI } from '../support/e2e.ts';
import { exchange, expectEveryStepRefused, expectRecovered, readyAgain, signInBefore, startFlow, timed } from '../support/fault-flows.ts';
import { seedBasics, USER } from '../support/fixtures.ts';
import { rawAuthorization, signInThroughForms } from '../support/forms.ts';
import { startOwnPostgres, type OwnPostgres } from '../support/postgres-server.ts';

/*
 * REL-F4: a Postgres cluster of the test's own stopped (fast, then immediate: a crash) and started again
 * under a running Gatehouse that keeps everything in it (no Redis). The app is never restarted.
 */

describe('the guarded pool when Postgres does not answer', () => {
  it('refuses at once for a moment after a connect timed out, instead of making every caller wait it out again', async () => {
    // Accepts connections and never says a word: a black-holed Postgres.
    const held: Socket[] = [];
    const silent = createServer((socket) => void held.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const pool = new pg.Pool({ connectionString: `postgres://postgres@127.0.0.1:${(silent.address() as AddressInfo).port}/none`, connectionTimeoutMillis: 500 });
    const guarded = guardedPool(pool, () => {});
    try {
      const first = await timed(() => guarded.connect().catch((error: unknown) => error));
      expect(isStoreUnavailable(first.value)).toBe(true);
      expect(first.ms).toBeGreaterThanOrEqual(450);
      const second = await timed(() => guarded.connect().catch((error: unknown) => error));
      expect(isStoreUnavailable(second.value)).toBe(true);
      expect(second.ms).toBeLessThan(50);
    } finally {
      await guarded.end();
      for (const socket of held) socket.destroy();
      silent.close();
    }
  });
});

if (postgresUrl) {
  describe('Gatehouse on a Postgres that restarts', () => {
    let database: OwnPostgres;
    let server: TestServer;

    beforeAll(async () => {
      database = await startOwnPostgres();
      server = await startTestServer({ DATABASE_URL: database.url });
      await seedBasics(server);
    });

    afterAll(async () => {
      await server?.close();
      await database?.remove();
    });

    const migrationsApplied = async () => {
      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      try {
        return (await client.query<{ name: string }>('SELECT name FROM kysely_migration ORDER BY name')).rows.map((row) => row.name);
      } finally {
        await client.end();
      }
    };

    it.each(['fast', 'immediate'] as const)('pg_ctl stop -m %s: 503 within 2 s while down, the pool back within 5 s of the start, nothing committed lost, no migration re-run', async (mode) => {
      const migrations = await migrationsApplied();
      const before = await signInBefore(server);
      const flow = await startFlow(server);
      // Sign-ins acknowledged (a code sent back) before the stop: committed, so they survive even a crash.
      const acknowledged = [];
      for (let n = 0; n < 3; n += 1) {
        const auth = rawAuthorization(server.issuer, { client_id: 'web', redirect_uri: REDIRECT_URI });
        const callback = await signInThroughForms(new UserAgent(), server.issuer, auth.url, USER.email, USER.password);
        acknowledged.push({ code: callback.searchParams.get('code')!, verifier: auth.verifier });
      }

      await database.stop(mode);
      await expectEveryStepRefused(server, flow, before, 'database');
      await database.start();
      expect(await readyAgain(server)).toBeLessThan(5_000);

      for (const { code, verifier } of acknowledged) expect((await exchange(server, code, verifier)).status).toBe(200);
      await expectRecovered(server, flow, before);
      expect(await migrationsApplied()).toEqual(migrations);
      expect(await pendingMigrations(server.app.db)).toEqual([]);
    });
  });
}
