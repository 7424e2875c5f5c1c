import type { Redis } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import type { LimiterStore } from '../../security/rate-limits.ts';

/**
 * Counters in Redis, shared by every replica, under `keyPrefix` (e.g. "gatehouse:rl:register-ip:<ip>").
 * No in-memory insurance limiter: when Redis does not answer (the client fails fast, see client.ts), the
 * check fails and the request is refused with 503 (ABU-04) instead of each process counting on its own.
 */
export function createRedisLimiterStore(redis: Redis, keyPrefix: string): LimiterStore {
  return (rule) =>
    new RateLimiterRedis({
      storeClient: redis,
      keyPrefix: `${keyPrefix}rl:${rule.name}`,
      points: rule.points,
      duration: rule.durationSeconds,
      blockDuration: rule.blockSeconds ?? 0,
    });
}
