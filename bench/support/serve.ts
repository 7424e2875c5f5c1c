/**
 * Starts the real app (embedded store, seeded with the test fixtures) in its own process and prints its
 * URL, so a benchmark measures what a remote client sees: work the server does after responding (or its
 * in-process PGlite) cannot stall the client's event loop. Extra env comes from the parent.
 */
import { startTestServer } from '../../test/support/app.ts';
import { upsertClient } from '../../src/storage/postgres/clients.queries.ts';
import { seedBasics, WEB_SECRET } from '../../test/support/fixtures.ts';

const server = await startTestServer({ DATA_DIR: 'memory://', TRUST_PROXY: 'true', ...process.env });
await seedBasics(server);
// A machine client for token-endpoint load (client_credentials, the same secret as the fixtures).
await upsertClient(server.app.db, 'service', {
  client_id: 'service', client_secret: WEB_SECRET, grant_types: ['client_credentials'], response_types: [], redirect_uris: [], token_endpoint_auth_method: 'client_secret_basic',
});
process.stdout.write(`${server.issuer}\n`);
process.on('SIGTERM', () => {
  void server.close().then(() => process.exit(0));
});
