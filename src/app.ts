import { readFileSync } from 'node:fs';
import type { IncomingMessage, RequestListener } from 'node:http';
import { join } from 'node:path';
import Koa from 'koa';
import Router from '@koa/router';
import helmet from 'koa-helmet';
import type Provider from 'oidc-provider';
import type { Logger } from 'pino';
import { createAuditLog, type AuditLog } from './audit/audit-log.ts';
import { createAuditRetention } from './audit/retention.ts';
import { checkSealedSecrets } from './admin/sealed-secrets.ts';
import type { Config } from './config/load.ts';
import { PendingMigrationsError } from './errors.ts';
import { createLogger } from './logger.ts';
import { createInstrumentation, type AppMetrics } from './observability/instrumentation.ts';
import { errorHandler } from './http/error-handler.ts';
import { healthRouter, type ReadinessCheck } from './http/health.ts';
import { requestContext } from './http/middleware/request-context.ts';
import { createCsrfTokens, sameOriginOnly } from './http/middleware/csrf.ts';
import { requestLocale } from './http/middleware/locale.ts';
import { contentSecurityPolicy } from './http/middleware/security-headers.ts';
import { createRenderer, viewsDir } from './http/render.ts';
import { interactionRouter } from './interactions/router.ts';
import { enrolledFactors, hasSecondFactor } from './accounts/mfa/factors.ts';
import { passkeySignInRouter } from './interactions/passkey-routes.ts';
import { interactionPages } from './interactions/pages.ts';
import { webauthnAssets } from './http/webauthn-assets.ts';
import { createFindAccount } from './oidc/find-account.ts';
import { createProviderPages } from './oidc/pages.ts';
import { createProviderHolder, type ProviderHolder } from './oidc/provider.ts';
import { protocolJsonPaths } from './oidc/json-endpoints.ts';
import { createApiDirectory } from './oidc/resource-servers.ts';
import { findApiByIdentifier } from './storage/postgres/apis.queries.ts';
import { createPasswordHasher, type PasswordHasher } from './security/passwords.ts';
import { createHashSlots, withHashSlots } from './security/hash-slots.ts';
import { lowerWorkerPriority } from './security/worker-priority.ts';
import type { AdapterFactory } from './storage/oidc-adapter.ts';
import { createClientsAdapter } from './storage/postgres/clients-adapter.ts';
import { openDatabase, type DatabaseHandle, type Db } from './storage/postgres/db.ts';
import { migrateToLatest, pendingMigrations } from './storage/postgres/migrate.ts';
import { createPostgresAdapterFactory } from './storage/postgres/oidc-adapter.ts';
import { createRedisClient } from './storage/redis/client.ts';
import { checkRedisDurability } from './storage/redis/durability.ts';
import { applyClientsFile } from './admin/clients-file.ts';
import { createRedisAdapterFactory } from './storage/redis/oidc-adapter.ts';
import { loadRevocationEpoch, withRevocationEpoch, type CachedRevocationEpoch } from './storage/revocation-epoch.ts';
import { demoRouter } from './demo/router.ts';
import { createUpstreamLinks } from './upstream/linking.ts';
import { createUpstreams } from './upstream/providers.ts';
import { upstreamCallbackRouter } from './upstream/router.ts';
import { devOutboxRouter } from './mail/dev-outbox.ts';
import { createMailer, type Mailer } from './mail/outbox.ts';
import { createMailRenderer } from './mail/templates.ts';
import { createLogTransport, createSmtpTransport } from './mail/transport.ts';
import { accountFlowRouter } from './recovery/router.ts';
import { ACCOUNT_SETTINGS_POST_PATHS, accountSettingsRouter } from './account/router.ts';
import { PASSKEY_SETTINGS_POST_PATHS, passkeySettingsRouter } from './account/passkey-routes.ts';
import { upstreamSettingsPostPaths, upstreamSettingsRouter } from './account/upstream-routes.ts';
import { createPasswordPolicy } from './security/password-policy.ts';
import { createAccountRateLimits, createMemoryLimiterStore } from './security/rate-limits.ts';
import { createSignInLimits } from './security/sign-in-limits.ts';
import { createClientAuthLimits } from './security/client-auth-limits.ts';
import { clientAuthLimiter } from './http/middleware/client-auth-limits.ts';
import { createPostgresLimiterStore } from './storage/postgres/rate-limit-store.ts';
import { createRedisLimiterStore } from './storage/redis/rate-limit-store.ts';
import { createPostgresAccountRevoker } from './storage/postgres/oidc-adapter.ts';
import { createRedisAccountRevoker } from './storage/redis/oidc-adapter.ts';

export interface GatehouseApp {
  readonly config: Config;
  readonly koa: Koa;
  /** The HTTP server's request listener: oidc-provider's JSON endpoints straight to the provider, the rest to `koa`. */
  callback(): RequestListener;
  readonly db: Db;
  readonly logger: Logger;
  readonly hasher: PasswordHasher;
  /** The mail outbox; tests call deliverDue() to send what a request queued. */
  readonly mailer: Mailer;
  /** The audit trail: flows call app.audit.record(event, ctx) (src/audit/audit-log.ts). */
  readonly audit: AuditLog;
  /** Prometheus: the registry /metrics serves (on this app's port, or on METRICS_PORT by src/server.ts). */
  readonly metrics: AppMetrics;
  provider(): Provider;
  readonly keys: Pick<ProviderHolder, 'refresh'>;
  /** The cached revocation epoch (REL-F13); tests call refresh() instead of waiting for its timer. */
  readonly revocationEpoch: Pick<CachedRevocationEpoch, 'refresh' | 'cutoff'>;
  /** Shutdown has begun: /readyz answers 503 from now on while requests are still served (src/shutdown.ts). */
  markDraining(): void;
  /** Stops timers and closes Redis and the database (the HTTP server is closed by its owner). */
  close(): Promise<void>;
}

export interface AppOptions {
  logger?: Logger;
  /** Apply pending migrations before anything reads the database (development and tests; production runs `gatehouse migrate`). */
  migrate?: boolean;
  /** Milliseconds since the epoch; injected by tests that age sessions (reauthentication limits). */
  clock?: () => number;
  /** Replaces the argon2 hasher built from config (tests wrap it to count verifications). */
  hasher?: PasswordHasher;
}

/** A file of views/assets/, read once at start-up and served with an hour's public cache. */
function asset(name: string, type: string): Koa.Middleware {
  const body = readFileSync(join(viewsDir, 'assets', name), 'utf8');
  return (ctx) => {
    ctx.type = type;
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = body;
  };
}

/** Strict-Transport-Security over https, for pages (helmet) and the JSON endpoints alike: a year, subdomains too (ASVS 3.4.1). */
const HSTS = { maxAge: 31_536_000, includeSubDomains: true } as const;

/** Our pages outside /interaction/ whose POSTs change state (checked for a same-origin request). */
const STATE_CHANGING_PAGES = new Set([
  '/session/end/confirm',
  '/register',
  '/verify-email',
  '/verify-email/resend',
  '/forgot-password',
  '/reset-password',
  ...ACCOUNT_SETTINGS_POST_PATHS,
  ...PASSKEY_SETTINGS_POST_PATHS,
]);

/** Composition root: builds every piece from the config and wires them together. No logic lives here. */
export async function createApp(config: Config, options: AppOptions = {}): Promise<GatehouseApp> {
  const logger = options.logger ?? createLogger(config);
  // First, so the stores report errors from their first query on (METRICS_ENABLED=false: all pass-through).
  const metrics = createInstrumentation({
    enabled: config.metrics.enabled,
    servedOnMainPort: config.metrics.port === undefined,
    traced: config.tracing !== undefined,
  });
  const database: DatabaseHandle = await openDatabase(
    config.database,
    (error) => {
      metrics.databaseError(error);
      logger.warn({ err: error.message }, 'idle database connection lost');
    },
    metrics.databaseError,
  );
  if (database.pool) metrics.pool(database.pool);
  const redis = config.redis ? createRedisClient(config.redis.url, config.redis.timeouts, config.redis.sentinel) : undefined;
  // Without a listener ioredis prints every connection error to stderr; ours go to the structured log.
  redis?.on('error', (error: Error) => logger.warn({ err: error.message }, 'redis connection error'));
  if (redis) metrics.redis(redis);
  try {
    const { db } = database;
    if (redis) await checkRedisDurability(redis, config.env === 'production', logger);
    if (options.migrate) {
      const applied = await migrateToLatest(db);
      for (const result of applied.results ?? []) logger.info({ migration: result.migrationName }, 'migration applied');
    } else {
      const pending = await pendingMigrations(db);
      if (pending.length > 0) throw new PendingMigrationsError(pending);
    }
    // A secret sealed by a key no longer in KEY_ENCRYPTION_KEY is refused here, not at someone's sign-in (REL-F7).
    await checkSealedSecrets(db, config.keyEncryptionKeys);
    if (config.clients) {
      await applyClientsFile(db, config.clients);
      logger.info({ clients: config.clients.map((client) => client.client_id) }, 'clients from CLIENTS_FILE applied');
    }
    const render = createRenderer({ cache: config.env !== 'development' });
    // One set of hashing slots for every argon2 computation in this process (ABU-05).
    const slots = createHashSlots(config.hashing);
    // The pool's threads yield the CPU to the event loop, so hashes cannot starve /token and discovery (ABU-05).
    const lowered = await lowerWorkerPriority();
    if (lowered.reason) logger[process.platform === 'linux' ? 'warn' : 'debug']({ reason: lowered.reason, threads: lowered.threads }, 'thread pool priority not lowered');
    const hasher = withHashSlots(options.hasher ?? (await createPasswordHasher(config.argon2)), slots);
    const clock = options.clock ?? Date.now;
    // Recovery codes have 80 random bits: argon2id at a low, fixed cost is enough (MFA-05).
    const recoveryCodes = { db, hasher: withHashSlots(await createPasswordHasher({ memoryCost: 4096, timeCost: 2, parallelism: 1 }), slots), now: () => new Date(clock()) };
    const mailer = createMailer({
      db,
      // Development without SMTP_URL: mail is kept in the outbox (listed at /dev/outbox) and only logged.
      transport: config.mail.smtpUrl ? createSmtpTransport(config.mail.smtpUrl) : createLogTransport(logger),
      from: config.mail.from,
      logger,
      render: createMailRenderer(render),
      clock,
    });
    // Sign-in, MFA and lock counters are read off the audit trail (src/observability/audit-metrics.ts).
    const audit = metrics.audit(createAuditLog({ db, logger, now: () => new Date(clock()) }));
    const auditRetention = createAuditRetention({ db, logger, retentionDays: config.audit.retentionDays, clock });
    const clients = createClientsAdapter(db);
    // What was issued before the revocation epoch reads as absent, from Redis or the database alike (REL-F13).
    const revocationEpoch = await loadRevocationEpoch(db, config.revocationEpoch.refreshSeconds, logger);
    const models: AdapterFactory = withRevocationEpoch(
      redis ? createRedisAdapterFactory(redis, config.redis!.keyPrefix) : createPostgresAdapterFactory(db),
      revocationEpoch,
    );
    const adapter: AdapterFactory = (model) => (model === 'Client' ? clients : models(model));
    const https = config.issuer.startsWith('https:');
    const securityHeaders = helmet({
      // Our own CSP (per-response nonce, per-page form-action) replaces helmet's static one.
      contentSecurityPolicy: false,
      // HSTS only means something over https; on an http dev issuer it would only confuse browsers.
      strictTransportSecurity: https ? HSTS : false,
      // The interaction pages must not be framed (legacy twin of frame-ancestors 'none').
      frameguard: { action: 'deny' },
      referrerPolicy: { policy: 'no-referrer' },
    });
    const trackRequest = requestContext(logger, config.trustProxy);
    const protocolErrors = errorHandler(render, logger);
    // The endpoints relying parties and APIs call on every request they serve (token, introspection,
    // userinfo, JWKS, discovery, ...) answer JSON, never a page: the HTTP listener hands them to the
    // provider directly, skipping our Koa app and the pages' middleware (CSP, language, same-origin check,
    // routers), and the provider wraps them in the same envelope every request gets (issue 13: a second
    // Koa context per request was a fifth of a JWKS request's CPU).
    const laneRequests = new WeakSet<IncomingMessage>();
    // Their headers are those that apply to a response no browser renders as a document (ASVS 3.4.1, 3.4.4):
    // nosniff, no referrer, HSTS over https. helmet's framing and cross-origin headers (WEB-03) are for pages.
    const jsonHeaders: Record<string, string> = { 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer' };
    if (https) jsonHeaders['Strict-Transport-Security'] = `max-age=${HSTS.maxAge}; includeSubDomains`;
    const protocolHeaders: Koa.Middleware = (ctx, next) => {
      ctx.set(jsonHeaders);
      return next();
    };
    const envelope: Koa.Middleware = (ctx, next) => metrics.http(ctx, () => trackRequest(ctx, () => protocolHeaders(ctx, () => protocolErrors(ctx, next))));
    const outermost: Koa.Middleware = (ctx, next) => (laneRequests.has(ctx.req) ? envelope(ctx, next) : next());
    const holder = await createProviderHolder(
      config,
      db,
      {
        adapter,
        clock,
        findAccount: createFindAccount(db),
        apis: createApiDirectory((identifier) => findApiByIdentifier(db, identifier), { now: clock }),
        hasSecondFactor: async (accountId) => hasSecondFactor(await enrolledFactors(db, accountId)),
        pages: createProviderPages(render, config),
        audit,
        outermost,
      },
      logger,
    );

    let draining = false; // markDraining() sets it; /readyz reads it
    const checks: ReadinessCheck[] = [
      { name: 'database', check: async () => void (await db.selectNoFrom((eb) => eb.val(1).as('one')).execute()) },
      {
        name: 'migrations',
        check: async () => {
          const pending = await pendingMigrations(db);
          return pending.length ? `pending: ${pending.join(', ')}` : undefined;
        },
      },
    ];
    if (redis) checks.push({ name: 'redis', check: async () => void (await redis.ping()) });

    // maxIpsCount 1: the client is the address our one proxy appended (rightmost X-Forwarded-For), not the
    // leftmost entry, which the client itself can write and so slip past per-IP limits.
    const koa = new Koa({ proxy: config.trustProxy, maxIpsCount: 1, keys: [...config.cookieSecrets] });
    koa.silent = true; // errors are logged by errorHandler; Koa's default would print stacks to stderr
    koa.use(metrics.http); // outermost: times every request, and answers GET /metrics when it is on this port
    koa.use(trackRequest);
    koa.use(securityHeaders);
    // Rate-limit counters, shared by every replica: Redis when configured, else the Postgres database; on the
    // embedded store this process's memory, exact there (one process by its lock file).
    const limiterStore = redis
      ? createRedisLimiterStore(redis, config.redis!.keyPrefix)
      : database.kind === 'postgres'
        ? createPostgresLimiterStore(db)
        : createMemoryLimiterStore();
    // The protocol: hand the raw request to the current oidc-provider instance.
    const handlers = new WeakMap<Provider, ReturnType<Provider['callback']>>();
    const clientAuthLimits = clientAuthLimiter(metrics.clientAuthLimits(createClientAuthLimits(limiterStore, config.limits.clientAuth)), logger);
    /** The current provider instance's listener; each instance (a new one per key rotation) gets the client-authentication limit once. */
    const providerListener = () => {
      const provider = holder.current();
      let handle = handlers.get(provider);
      if (!handle) handlers.set(provider, (handle = metrics.provider(provider).use(clientAuthLimits).callback()));
      return handle;
    };
    const toProvider: Koa.Middleware = async (ctx) => {
      ctx.respond = false;
      await providerListener()(ctx.req, ctx.res);
    };
    // The JSON endpoints, when they reach this app (a server built on `koa.callback()` rather than `callback()`).
    const jsonEndpoints = protocolJsonPaths(holder.current());
    koa.use((ctx, next) => (jsonEndpoints.has(ctx.path) ? protocolErrors(ctx, () => toProvider(ctx, next)) : next()));
    koa.use(contentSecurityPolicy(https));
    koa.use(requestLocale(config.defaultLocale));
    koa.use(errorHandler(render, logger));
    // Cross-site POSTs to the pages that change state are refused before any other work (WEB-01);
    // oidc-provider's logout confirmation adds its own xsrf token on top of this.
    const sameOrigin = sameOriginOnly(config.issuer);
    // The account page's upstream Link and Unlink forms: two paths per configured provider.
    const stateChangingPages = new Set([...STATE_CHANGING_PAGES, ...upstreamSettingsPostPaths(config.upstreams)]);
    koa.use(async (ctx, next) => {
      if (ctx.path.startsWith('/interaction/') || stateChangingPages.has(ctx.path)) return sameOrigin(ctx, next);
      return next();
    });

    const own = new Router();
    own.get('/assets/gatehouse.css', asset('gatehouse.css', 'text/css'));
    // The recovery-codes page's copy button: a same-origin module loaded with the page's CSP nonce.
    own.get('/assets/copy-codes.js', asset('copy-codes.js', 'text/javascript'));
    koa.use(own.routes());
    koa.use(webauthnAssets().routes());
    koa.use(healthRouter(checks, () => draining).routes());
    const csrf = createCsrfTokens(config.cookieSecrets);
    const signInLimits = metrics.signInLimits(
      createSignInLimits({
        store: limiterStore,
        db,
        limits: config.limits.signIn,
        now: () => new Date(clock()),
        lockMail: { mail: mailer, locale: config.defaultLocale, resetUrl: `${config.issuer}/forgot-password` },
      }),
    );
    const devices = { db, mail: mailer, issuer: config.issuer, now: () => new Date(clock()), enabled: config.accounts.newDeviceAlerts };
    // Upstream OpenID providers (issue 12): discovered on first use, never at start (one down must not stop us).
    const upstreams = createUpstreams(config.upstreams, config.issuer, clock);
    const upstreamLinks = createUpstreamLinks({ db, mail: mailer, audit, upstreams, issuer: config.issuer, now: () => new Date(clock()) });
    const interactions = interactionRouter({
      db,
      hasher,
      render,
      csrf,
      provider: holder.current,
      accounts: { registrationOpen: config.registration === 'open', allowUnverifiedSignIn: config.accounts.allowUnverifiedSignIn, mfaRequired: config.accounts.mfaRequired },
      totp: { db, keyEncryptionKeys: config.keyEncryptionKeys, now: () => new Date(clock()) },
      recoveryCodes,
      mail: mailer,
      issuer: config.issuer,
      audit,
      devices,
      signInLimits,
      upstreams,
      upstreamLinks,
      https,
      now: () => new Date(clock()),
      clock,
    });
    koa.use(interactions.routes()).use(interactions.allowedMethods());
    koa.use(upstreamCallbackRouter({ upstreams, https, db, audit, links: upstreamLinks, logger, provider: holder.current, clock }).routes());
    const passkeys = { db, issuer: config.issuer, now: () => new Date(clock()) };
    const passkeySignIn = passkeySignInRouter({
      passkeys,
      pages: interactionPages({ render, csrf, registrationOpen: config.registration === 'open', upstreams: upstreams.list() }),
      audit,
      devices,
      upstreamLinks,
      provider: holder.current,
      allowUnverifiedSignIn: config.accounts.allowUnverifiedSignIn,
    });
    koa.use(passkeySignIn.routes()).use(passkeySignIn.allowedMethods());
    const accountDeps = {
      db,
      hasher,
      mail: mailer,
      policy: createPasswordPolicy({ ...config.passwords, issuer: config.issuer }),
      revoker: redis ? createRedisAccountRevoker(redis, config.redis!.keyPrefix) : createPostgresAccountRevoker(db),
      config,
      logger,
      rateLimits: metrics.accountLimits(createAccountRateLimits(limiterStore)),
      audit,
      recoveryCodes,
      now: () => new Date(clock()),
    };
    const accountFlows = accountFlowRouter(accountDeps, render, csrf);
    koa.use(accountFlows.routes()).use(accountFlows.allowedMethods());
    const settingsDeps = { ...accountDeps, provider: holder.current, upstreams, upstreamLinks };
    const accountSettings = accountSettingsRouter(settingsDeps, render, csrf);
    koa.use(accountSettings.routes()).use(accountSettings.allowedMethods());
    const passkeySettings = passkeySettingsRouter(settingsDeps, render, csrf);
    koa.use(passkeySettings.routes()).use(passkeySettings.allowedMethods());
    const upstreamSettings = upstreamSettingsRouter(settingsDeps, render, csrf);
    koa.use(upstreamSettings.routes()).use(upstreamSettings.allowedMethods());
    if (config.seedDemo) koa.use(demoRouter(config, render).routes());
    if (config.env === 'development') koa.use(devOutboxRouter({ db, render }).routes());

    // Everything else is the protocol: the rest of oidc-provider's routes (authorization, logout, …).
    koa.use(toProvider);

    mailer.start(5_000);
    revocationEpoch.start();
    if (config.audit.retentionDays > 0) auditRetention.start();
    return {
      config,
      koa,
      db,
      logger,
      hasher,
      mailer,
      audit,
      provider: holder.current,
      keys: holder,
      callback() {
        const pages = koa.callback();
        return (req, res) => {
          const url = req.url ?? '/';
          const query = url.indexOf('?');
          if (!jsonEndpoints.has(query < 0 ? url : url.slice(0, query))) return pages(req, res);
          laneRequests.add(req);
          return providerListener()(req, res);
        };
      },
      revocationEpoch,
      metrics: { enabled: metrics.enabled, registry: metrics.registry },
      markDraining() {
        draining = true;
      },
      async close() {
        holder.stop();
        revocationEpoch.stop();
        await mailer.close(); // before the database: a delivery run may be using it
        await auditRetention.close();
        redis?.disconnect();
        await database.close();
      },
    };
  } catch (error) {
    redis?.disconnect();
    await database.close();
    throw error;
  }
}
