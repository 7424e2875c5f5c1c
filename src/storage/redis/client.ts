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

/**
 * Redis holds sessions, grants, codes and refresh tokens: if it evicts keys under memory pressure, users
 * are signed out and tokens die at random, and a consumed code can vanish and be redeemable again only
 * because its record is gone. Only `noeviction` (refuse writes when full, which we answer 503) is safe.
 * Returns the policy when it is something else; undefined when it is safe or cannot be read (a managed
 * Redis may forbid CONFIG: that is worth a line in the log, not a refusal to start).
 */
export async function unsafeEvictionPolicy(redis: Redis): Promise<string | undefined> {
  try {
    const reply = (await redis.config('GET', 'maxmemory-policy')) as string[];
    const policy = reply[1];
    return policy && policy !== 'noeviction' ? policy : undefined;
  } catch {
    return undefined;
  }
}
