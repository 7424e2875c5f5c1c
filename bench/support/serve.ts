/**
 * Starts the real app (embedded store, seeded with the test fixtures) in its own process and prints its
 * URL, so a benchmark measures what a remote client sees: work the server does after responding (or its
 * in-process PGlite) cannot stall the client's event loop. Extra env comes from the parent.
 */
import { startTestServer } from '../../test/support/app.ts';
import { seedBasics } from '../../test/support/fixtures.ts';

const server = await startTestServer({ DATA_DIR: 'memory://', TRUST_PROXY: 'true', ...process.env });
await seedBasics(server);
process.stdout.write(`${server.issuer}\n`);
process.on('SIGTERM', () => {
  void server.close().then(() => process.exit(0));
});
