import Provider from 'oidc-provider';
import type { Logger } from 'pino';
import type { Config } from '../config/load.ts';
import type { Db } from '../storage/postgres/db.ts';
import { createProviderConfiguration, type ProviderDependencies } from './configuration.ts';
import { keySetFingerprint, reconcileSigningKeys, toProviderJwks } from './keys.ts';

export type ProviderFactoryDeps = Omit<ProviderDependencies, 'jwks'>;

/** Builds an oidc-provider instance for the given keys; all state lives in the adapters, so instances are interchangeable. */
function buildProvider(config: Config, deps: ProviderDependencies, logger: Logger): Provider {
  const provider = new Provider(config.issuer, createProviderConfiguration(config, deps));
  provider.proxy = config.trustProxy;
  // oidc-provider answers server_error without telling us why; log the cause (never the token).
  provider.on('server_error', (_ctx, error) => logger.error({ err: error }, 'oidc-provider server_error'));
  return provider;
}

export interface ProviderHolder {
  /** The provider serving requests now. */
  current(): Provider;
  /** Re-reads the signing keys; swaps in a new provider when the published set or a key's role changed. */
  refresh(now?: Date): Promise<boolean>;
  stop(): void;
}

/**
 * Zero-downtime key rotation: oidc-provider fixes its keystore at construction, so a running server
 * re-reads the keys table every KEY_REFRESH_SECONDS and rebuilds the provider when a `next` key was
 * published or became `current`. In-flight requests finish on the instance they started on.
 */
export async function createProviderHolder(config: Config, db: Db, deps: ProviderFactoryDeps, logger: Logger): Promise<ProviderHolder> {
  let keys = await reconcileSigningKeys(db, config, new Date());
  let fingerprint = keySetFingerprint(keys);
  let provider = buildProvider(config, { ...deps, jwks: toProviderJwks(keys, config) }, logger);

  const refresh = async (now = new Date()): Promise<boolean> => {
    keys = await reconcileSigningKeys(db, config, now);
    const next = keySetFingerprint(keys);
    if (next === fingerprint) return false;
    provider = buildProvider(config, { ...deps, jwks: toProviderJwks(keys, config) }, logger);
    fingerprint = next;
    logger.info({ keys: next }, 'signing keys changed; provider rebuilt');
    return true;
  };
  const timer = setInterval(() => {
    refresh().catch((error: unknown) => logger.error({ err: error }, 'signing key refresh failed'));
  }, config.keys.refreshSeconds * 1000);
  timer.unref();

  return { current: () => provider, refresh, stop: () => clearInterval(timer) };
}
