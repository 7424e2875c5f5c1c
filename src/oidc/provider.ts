import type { Middleware } from 'koa';
import Provider from 'oidc-provider';
import type { Logger } from 'pino';
import type { AuditLog } from '../audit/audit-log.ts';
import type { Config } from '../config/load.ts';
import type { Db } from '../storage/postgres/db.ts';
import { createProviderConfiguration, type ProviderDependencies } from './configuration.ts';
import { CONSUME_REJECTED } from '../storage/oidc-adapter.ts';
import { createStoreOutageHandling } from './store-outages.ts';
import { keySetFingerprint, reconcileSigningKeys, toProviderJwks } from './keys.ts';
import { acceptPreviousClientSecrets } from './previous-client-secret.ts';

export type ProviderFactoryDeps = Omit<ProviderDependencies, 'jwks'> & {
  audit: AuditLog;
  /** Runs first in every provider instance: the request envelope (metrics, request id and log, headers) for requests handed to it directly. */
  outermost?: Middleware;
};

/**
 * The InvalidGrant details of a code or rotated refresh token coming back (RFC 9700 §4.14):
 * oidc-provider's own, and our adapters' atomic consume losing a race (CONSUME_REJECTED).
 */
const REUSE = new Set(['authorization code already consumed', 'refresh token already used', CONSUME_REJECTED]);

/** Builds an oidc-provider instance for the given keys; all state lives in the adapters, so instances are interchangeable. */
function buildProvider(config: Config, db: Db, deps: ProviderDependencies & Omit<ProviderFactoryDeps, keyof ProviderDependencies>, logger: Logger): Provider {
  const provider = new Provider(config.issuer, createProviderConfiguration(config, deps));
  if (deps.outermost) provider.use(deps.outermost);
  provider.proxy = config.trustProxy;
  // A rotated client secret's predecessor stays valid for the rotation's overlap (REL-F7).
  acceptPreviousClientSecrets(provider, db, deps.clock, logger);
  // Outermost in the provider, so it sees every answer (and the errors that escape oidc-provider) last.
  const outages = createStoreOutageHandling(deps.pages, logger);
  provider.use(outages.middleware);
  // oidc-provider answers server_error without telling us why; log the cause (never the token). A store
  // outage is answered 503 by the middleware above instead.
  provider.on('server_error', (ctx, error) => {
    if (!outages.onServerError(ctx, error)) logger.error({ err: error }, 'oidc-provider server_error');
  });
  auditProtocolEvents(provider, deps.audit, logger);
  return provider;
}

/**
 * The protocol's own events in the audit trail (LOG-01): a replayed code or refresh token (oidc-provider
 * has already revoked the grant; someone holds a stolen token) and an ended session. These fire after
 * the response is decided, so a failed write is logged rather than failing the request.
 */
function auditProtocolEvents(provider: Provider, audit: AuditLog, logger: Logger): void {
  const record = (event: Parameters<AuditLog['record']>[0], ctx: Parameters<AuditLog['record']>[1]) =>
    audit.record(event, ctx).catch((error: unknown) => logger.error({ err: error, type: event.type }, 'audit event lost'));
  provider.on('grant.error', (ctx, error) => {
    // InvalidGrant keeps its specific reason in error_detail (the client sees the generic description).
    if (!REUSE.has((error as { error_detail?: string }).error_detail ?? '')) return;
    // Which token came back is the grant type; the entity (and so the account) is known only when
    // oidc-provider had loaded it before the refusal.
    const kind = ctx.oidc.params?.['grant_type'] === 'refresh_token' ? 'refresh_token' : 'authorization_code';
    const { AuthorizationCode, RefreshToken } = ctx.oidc.entities;
    const replayed = kind === 'refresh_token' ? RefreshToken : AuthorizationCode;
    void record({
      type: 'token_reuse_detected',
      outcome: 'failure',
      reason: 'code_reused',
      accountId: replayed?.accountId,
      clientId: ctx.oidc.client?.clientId,
      details: { kind, grant_revoked: true },
    }, ctx);
  });
  provider.on('end_session.success', (ctx) => {
    void record({ type: 'sign_out', accountId: ctx.oidc.session?.accountId, clientId: ctx.oidc.client?.clientId }, ctx);
  });
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
  let provider = buildProvider(config, db, { ...deps, jwks: toProviderJwks(keys, config) }, logger);

  const refresh = async (now = new Date()): Promise<boolean> => {
    keys = await reconcileSigningKeys(db, config, now);
    const next = keySetFingerprint(keys);
    if (next === fingerprint) return false;
    provider = buildProvider(config, db, { ...deps, jwks: toProviderJwks(keys, config) }, logger);
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
