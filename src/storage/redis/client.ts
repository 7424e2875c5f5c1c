import { Redis } from 'ioredis';
import { DEFAULT_REDIS_TIMEOUTS, type RedisTimeouts } from '../../config/load.ts';

/**
 * A Redis client for the OIDC adapter and the rate-limit store. During an outage requests must fail fast
 * (503 with Retry-After, /readyz red) instead of queueing behind a reconnect loop, and a command must not
 * run long after the request that sent it was answered (REL-F1, REL-F10):
 * - commandTimeout: a stalled, paused or unreachable server fails the command at the bound;
 * - the offline queue holds commands only while the first connection opens (callers may send right after
 *   creating the client); once connected, a client that loses its connection refuses commands at once
 *   instead of parking them to run on the next connection;
 * - socketTimeout: a connection that stays silent while commands wait is torn down and reopened, so a
 *   black-holed link (where no reset ever arrives) recovers on its own;
 * - maxRetriesPerRequest 0: a command in flight when the connection drops is failed, not sent again on
 *   the next connection (a resent atomic consume would find its own mark and revoke a good grant), and
 *   each failed reconnect empties the start-up queue, so it stays bounded;
 * - retryStrategy never gives up (backoff to at most 1 s), so service resumes within about a second
 *   of Redis (REL-F1: within 5 s) without a restart.
 */
export function createRedisClient(url: string, timeouts: RedisTimeouts = DEFAULT_REDIS_TIMEOUTS): Redis {
  const redis = new Redis(url, {
    maxRetriesPerRequest: 0,
    connectTimeout: timeouts.connectMs,
    commandTimeout: timeouts.commandMs,
    socketTimeout: timeouts.commandMs + timeouts.connectMs,
    retryStrategy: (times) => Math.min(times * 100, 1_000),
    connectionName: 'gatehouse',
  });
  // ioredis reads this option on every command, so switching it here changes what a disconnect does.
  redis.once('ready', () => {
    redis.options.enableOfflineQueue = false;
  });
  return redis;
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
