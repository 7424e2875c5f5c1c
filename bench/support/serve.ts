/**
 * Starts the real app (embedded store, seeded with the test fixtures) in its own process and prints its
 * URL, so a benchmark measures what a remote client sees: work the server does after responding (or its
 * in-process PGlite) cannot stall the client's event loop. Extra env comes from the parent; with
 * DATABASE_URL / REDIS_URL (the production stores) it runs on a fresh database and its own Redis keys,
 * dropped when it stops, as the tests do.
 */
import { startTestServer } from '../../test/support/app.ts';
import { createTestDatabase, postgresUrl, redisUrl, uniqueName } from '../../test/support/backends.ts';
import { upsertClient } from '../../src/storage/postgres/clients.queries.ts';
import { seedBasics, WEB_SECRET } from '../../test/support/fixtures.ts';

const database = postgresUrl ? await createTestDatabase() : undefined;
const server = await startTestServer({
  DATA_DIR: 'memory://',
  TRUST_PROXY: 'true',
  ...process.env,
  ...(database ? { DATABASE_URL: database.url } : {}),
  ...(redisUrl ? { REDIS_KEY_PREFIX: `${uniqueName('gh_bench')}:` } : {}),
});
await seedBasics(server);
// A machine client for token-endpoint load (client_credentials, the same secret as the fixtures).
await upsertClient(server.app.db, 'service', {
  client_id: 'service', client_secret: WEB_SECRET, grant_types: ['client_credentials'], response_types: [], redirect_uris: [], token_endpoint_auth_method: 'client_secret_basic',
});
process.stdout.write(`${server.issuer}\n`);
process.on('SIGTERM', () => {
  void server
    .close()
    .then(() => database?.drop())
    .then(() => process.exit(0));
});
