import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

/**
 * The app's Prometheus instruments. Every label has a small, fixed set of values (route templates,
 * status codes, audit reasons, limit names, grant types): never a raw URL, an email, an IP, a client id
 * or anything else a request can choose, so the series count stays bounded and nothing secret or
 * personal reaches the scrape (the test reads /metrics for the user's email and the client secret).
 */
export interface Metrics {
  /** This app's registry: its own instruments plus the process's (see processRegistry). */
  readonly registry: Registry;
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  readonly signIns: Counter<'outcome'>;
  readonly mfa: Counter<'factor' | 'outcome'>;
  readonly auditEvents: Counter<'type' | 'outcome'>;
  readonly tokens: Counter<'grant_type'>;
  readonly limitBlocks: Counter<'limit'>;
  readonly redisErrors: Counter;
  readonly postgresErrors: Counter<'class'>;
}

let shared: Registry | undefined;

/**
 * prom-client's default metrics (CPU, memory, handles, GC, event-loop lag) describe the process, not
 * an app: collected once per process into a registry of our own (never prom-client's global one) and
 * merged into each app's. Several apps in one process (the tests) then share one set of observers
 * instead of adding a GC observer and an event-loop monitor per app that nothing can remove.
 */
function processRegistry(): Registry {
  if (!shared) {
    shared = new Registry();
    collectDefaultMetrics({ register: shared });
  }
  return shared;
}

/** A fresh registry and instruments for one app instance (tests run several apps in one process). */
export function createMetrics(): Metrics {
  const registry = Registry.merge([processRegistry()]);
  const registers = [registry];
  return {
    registry,
    httpDuration: new Histogram({
      name: 'gatehouse_http_request_duration_seconds',
      help: 'HTTP requests by method, route template ("unmatched" when no route matched) and status code, until the response is sent.',
      labelNames: ['method', 'route', 'status'],
      // A password sign-in spends most of its time in argon2 (tenths of a second), so the upper buckets matter.
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    signIns: new Counter({
      name: 'gatehouse_sign_ins_total',
      help: 'Finished sign-ins (outcome "success", after every factor) and refused ones by the audit trail\'s reason.',
      labelNames: ['outcome'],
      registers,
    }),
    mfa: new Counter({
      name: 'gatehouse_mfa_verifications_total',
      help: 'Second-factor checks during sign-in by factor and outcome ("success" or the audit trail\'s reason).',
      labelNames: ['factor', 'outcome'],
      registers,
    }),
    auditEvents: new Counter({
      name: 'gatehouse_audit_events_total',
      help: 'Events written to the audit trail by type and outcome (account locks, resets, consent, token reuse, ...).',
      labelNames: ['type', 'outcome'],
      registers,
    }),
    tokens: new Counter({
      name: 'gatehouse_tokens_issued_total',
      help: 'Successful token endpoint grants by grant type.',
      labelNames: ['grant_type'],
      registers,
    }),
    limitBlocks: new Counter({
      name: 'gatehouse_rate_limit_blocks_total',
      help: 'Requests refused by a rate limit (429), by limit.',
      labelNames: ['limit'],
      registers,
    }),
    redisErrors: new Counter({
      name: 'gatehouse_redis_errors_total',
      help: 'Redis connection errors (the client reconnects by itself).',
      registers,
    }),
    postgresErrors: new Counter({
      name: 'gatehouse_postgres_errors_total',
      help: 'Failed database queries and connection attempts by SQLSTATE class ("connection" when the server gave none: refused, lost or timed out).',
      labelNames: ['class'],
      registers,
    }),
  };
}
