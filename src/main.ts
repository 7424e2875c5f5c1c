import { loadConfig } from './config/load.ts';
import { ConfigError, EncryptionKeyMissingError, PendingMigrationsError, StoreLockedError } from './errors.ts';
import { startTracing } from './observability/tracing.ts';
import { shutDownOnSignals } from './shutdown.ts';

/** Entry point: loadConfig(process.env) -> createApp(config) -> listen; SIGTERM drains and closes. */
async function main(): Promise<void> {
  const started = Date.now();
  const config = loadConfig(process.env);
  // Tracing (when configured) hooks pg, ioredis and node:http as they load, so the app is imported after it.
  const tracing = await startTracing(config);
  const [{ createApp }, { seedDemo }, { startServer }] = await Promise.all([import('./app.ts'), import('./demo/seed.ts'), import('./server.ts')]);
  // Production runs `gatehouse migrate` as its own step (a Helm hook) so replicas never race on DDL.
  const app = await createApp(config, { migrate: config.env !== 'production' });
  const { logger } = app;
  const demo = config.seedDemo ? await seedDemo(app.db, config, app.hasher) : undefined;
  const running = await startServer(app);
  logger.info({ issuer: config.issuer, listen: running.url, metrics: running.metricsUrl, traces: tracing?.collector, ms: Date.now() - started }, 'Gatehouse is ready');
  if (config.secretsGenerated) logger.warn(`development secrets generated and kept in ${config.dataDir}/secrets.json`);
  if (demo) {
    process.stdout.write(
      [
        '',
        `  Gatehouse is running at ${config.issuer}`,
        `  Discovery:  ${config.issuer}/.well-known/openid-configuration`,
        `  Demo app:   ${config.issuer}/demo   (sign in as ${demo.email} / ${demo.password})`,
        `  Demo client: ${demo.clientId} (public, PKCE)`,
        '',
      ].join('\n') + '\n',
    );
  }

  shutDownOnSignals({
    logger,
    ...config.shutdown,
    markDraining: () => app.markDraining(),
    async stop(timeoutMs) {
      const result = await running.stop(timeoutMs);
      await tracing?.shutdown(); // the spans of the last requests reach the collector before the exit
      return result;
    },
  });
}

main().catch((error: unknown) => {
  if (
    error instanceof ConfigError ||
    error instanceof StoreLockedError ||
    error instanceof PendingMigrationsError ||
    error instanceof EncryptionKeyMissingError
  ) {
    process.stderr.write(`gatehouse: ${error.message}\n`);
  } else {
    process.stderr.write(`gatehouse: failed to start: ${(error as Error).stack ?? String(error)}\n`);
  }
  process.exit(1);
});
