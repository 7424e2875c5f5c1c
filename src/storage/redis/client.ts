import { Redis, type RedisOptions } from 'ioredis';
import { DEFAULT_REDIS_TIMEOUTS, type RedisSentinelConfig, type RedisTimeouts } from '../../config/load.ts';

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
 * With `sentinel` (REL-F3), every (re)connection first asks the sentinels where the primary is, so after a
 * failover the next reconnect reaches the promoted replica; see sentinelOptions.
 */
export function createRedisClient(url: string, timeouts: RedisTimeouts = DEFAULT_REDIS_TIMEOUTS, sentinel?: RedisSentinelConfig): Redis {
  // ioredis reads enableOfflineQueue on every command, so switching it off changes what a disconnect does.
  const stopQueueing = () => {
    redis.options.enableOfflineQueue = false;
  };
  const redis = new Redis(url, {
    maxRetriesPerRequest: 0,
    connectTimeout: timeouts.connectMs,
    commandTimeout: timeouts.commandMs,
    socketTimeout: timeouts.commandMs + timeouts.connectMs,
    retryStrategy: (times) => Math.min(times * 100, 1_000),
    connectionName: 'gatehouse',
    ...(sentinel ? sentinelOptions(url, timeouts, sentinel, stopQueueing) : {}),
  });
  redis.once('ready', stopQueueing);
  return redis;
}

/**
 * ioredis's Sentinel mode with the same bounds as a direct connection. REDIS_URL keeps the primary's
 * user, password and database; rediss:// means TLS to the sentinels as well as to the primary (ioredis
 * needs both said explicitly). A sentinel that accepts but does not answer is given up after the command
 * timeout, and the search never stops (backoff to at most 1 s per round through the list).
 *
 * One gap is closed by hand: while no sentinel answers at all, ioredis keeps looking inside a single
 * connection attempt, which never fails, so the start-up queue would never be emptied: it would grow for
 * as long as the sentinels are away, and its commands (each answered 503 at the command timeout) would
 * all run whenever one came back. So the first round through the list in which no sentinel answers ends
 * the start-up queue (`onNoSentinel`): it keeps at most what was sent during that round, and later
 * commands are refused at once.
 */
export function sentinelOptions(url: string, timeouts: RedisTimeouts, sentinel: RedisSentinelConfig, onNoSentinel: () => void = () => {}): RedisOptions {
  const tls = new URL(url).protocol === 'rediss:';
  return {
    sentinels: sentinel.addresses.map(({ host, port }) => ({ host, port })),
    name: sentinel.name,
    sentinelPassword: sentinel.password,
    sentinelCommandTimeout: timeouts.commandMs,
    sentinelRetryStrategy: (times) => {
      onNoSentinel();
      return Math.min(times * 100, 1_000);
    },
    enableTLSForSentinelMode: tls,
    ...(tls ? { sentinelTLS: {} } : {}),
  };
}

/**
 * Redis holds sessions, grants, codes and refresh tokens: if it evicts keys under memory pressure, users
 * are signed out and tokens die at random, and a consumed code can vanish and be redeemable again only
 * because its record is gone. Only `noeviction` (refuse writes when full, which we answer 503) is safe.
 * Returns the policy when it is something else; undefined when it is safe or cannot be read (a managed
 * Redis may forbid CONFIG: that is worth a line in the log, not a refusal to start).
 */
export async function unsafeEvictionPolicy(redis: Redis): Promise<string | undefined> {
  const policy = await readRedisSetting(redis, 'maxmemory-policy');
  return policy && policy !== 'noeviction' ? policy : undefined;
}

/** One CONFIG GET value; undefined when it cannot be read (no answer, or CONFIG forbidden). */
export async function readRedisSetting(redis: Redis, name: string): Promise<string | undefined> {
  try {
    return ((await redis.config('GET', name)) as string[])[1];
  } catch {
    return undefined;
  }
}
