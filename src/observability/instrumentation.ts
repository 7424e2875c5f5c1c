import type { Middleware } from 'koa';
import type Provider from 'oidc-provider';
import { Registry } from 'prom-client';
import type { AuditLog } from '../audit/audit-log.ts';
import type { ClientAuthLimits } from '../security/client-auth-limits.ts';
import type { AccountRateLimits } from '../security/rate-limits.ts';
import type { SignInLimits } from '../security/sign-in-limits.ts';
import { countAuditEvents } from './audit-metrics.ts';
import { httpMetrics, providerRouteRecorder, routeTemplate } from './http-metrics.ts';
import { countAccountBlocks, countClientAuthBlocks, countSignInBlocks } from './limit-metrics.ts';
import { createMetrics } from './metrics.ts';
import { rememberRoute } from './request-routes.ts';
import { countPostgresError, watchPool, watchRedis, type PoolCounts, type WatchedRedis } from './storage-metrics.ts';

/**
 * What app.ts wires in: each piece it builds passes through here once. With METRICS_ENABLED=false and
 * tracing off every method hands its argument back untouched and nothing is measured or served.
 */
export interface Instrumentation {
  readonly enabled: boolean;
  /** Served at /metrics (main port or METRICS_PORT); empty when disabled. */
  readonly registry: Registry;
  /** Outermost Koa middleware: request durations, GET /metrics when it is served on the main port, and the route template for the trace span. */
  readonly http: Middleware;
  audit(log: AuditLog): AuditLog;
  signInLimits(limits: SignInLimits): SignInLimits;
  clientAuthLimits(limits: ClientAuthLimits): ClientAuthLimits;
  accountLimits(limits: AccountRateLimits): AccountRateLimits;
  /** Once per provider instance (one per key rotation): grants counted, route templates recorded. */
  provider(provider: Provider): Provider;
  /** Redis connection errors and state; Postgres query and connection errors; pool use (Postgres only). */
  redis(redis: WatchedRedis): void;
  databaseError(error: unknown): void;
  pool(pool: PoolCounts): void;
}

/** What GatehouseApp exposes: whether metrics are on, and the registry the server scrapes. */
export type AppMetrics = Pick<Instrumentation, 'enabled' | 'registry'>;

export interface InstrumentationOptions {
  enabled: boolean;
  /** No METRICS_PORT: the main port answers GET /metrics. */
  servedOnMainPort: boolean;
  /** OTLP tracing is on (src/observability/tracing.ts): server spans are named by route template. */
  traced: boolean;
}

const same = <T>(value: T) => value;

const disabled: Instrumentation = {
  enabled: false,
  registry: new Registry(),
  http: (_ctx, next) => next(),
  audit: same,
  signInLimits: same,
  clientAuthLimits: same,
  accountLimits: same,
  provider: same,
  redis: () => {},
  databaseError: () => {},
  pool: () => {},
};

/**
 * Route templates for the metrics and the traces: oidc-provider's are recorded by middleware of its own
 * on each provider instance; with tracing on, each request tells the tracing hook how to read its template
 * once its response is sent (src/observability/request-routes.ts).
 */
function recordingRoutes(instrumentation: Instrumentation, traced: boolean): Instrumentation {
  const measured = instrumentation.http;
  return {
    ...instrumentation,
    http: traced
      ? (ctx, next) => {
          rememberRoute(ctx.req, () => routeTemplate(ctx));
          return measured(ctx, next);
        }
      : measured,
    provider(provider) {
      provider.use(providerRouteRecorder(provider));
      return instrumentation.provider(provider);
    },
  };
}

export function createInstrumentation(options: InstrumentationOptions): Instrumentation {
  if (!options.enabled && !options.traced) return disabled;
  return recordingRoutes(options.enabled ? createMeasuring(options) : disabled, options.traced);
}

function createMeasuring(options: InstrumentationOptions): Instrumentation {
  const metrics = createMetrics();
  return {
    enabled: true,
    registry: metrics.registry,
    http: httpMetrics(metrics.httpDuration, options.servedOnMainPort ? metrics.registry : undefined),
    audit: (log) => countAuditEvents(log, metrics),
    signInLimits: (limits) => countSignInBlocks(limits, metrics.limitBlocks),
    clientAuthLimits: (limits) => countClientAuthBlocks(limits, metrics.limitBlocks),
    accountLimits: (limits) => countAccountBlocks(limits, metrics.limitBlocks),
    provider(provider) {
      // grant_type comes from a successful grant only, so its values are the grant types clients may use.
      provider.on('grant.success', (ctx) => metrics.tokens.inc({ grant_type: String(ctx.oidc.params?.['grant_type'] ?? 'unknown') }));
      return provider;
    },
    redis: (redis) => watchRedis(redis, metrics),
    databaseError: (error) => countPostgresError(error, metrics),
    pool: (pool) => watchPool(pool, metrics.registry),
  };
}
