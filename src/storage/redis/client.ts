import { Redis } from 'ioredis';

/**
 * A Redis client for the OIDC adapter and the rate-limit store. During an outage requests must fail fast
 * (the error handler answers 5xx, /readyz goes red) instead of queueing behind a reconnect loop:
 * - maxRetriesPerRequest 1: a command whose connection drops is retried once, then rejected;
 * - connectTimeout 5 s / commandTimeout 2 s: a half-open socket or stalled server does not hang a request;
 * - reconnects back off to at most 2 s, so service resumes soon after Redis does.
 * The offline queue stays on so commands issued during the first connect are not lost.
 */
export function createRedisClient(url: string): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: 1,
    connectTimeout: 5_000,
    commandTimeout: 2_000,
    retryStrategy: (times) => Math.min(times * 100, 2_000),
    connectionName: 'gatehouse',
  });
}
