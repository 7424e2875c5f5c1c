import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { ConfigError } from '../../errors.ts';
import { readRedisSetting, unsafeEvictionPolicy } from './client.ts';

/**
 * OPS-02 at start-up. An evicting Redis silently drops sessions, grants, consumed-code markers and
 * revocations (every oidc-provider key has a TTL, so even volatile-* policies pick them): in production
 * that is a security fault, so the server refuses to start; elsewhere it warns. A Redis that keeps
 * nothing on disk loses all of it at a restart: a warning, since a cache-only Redis is a choice some
 * operators make knowingly. Either setting that cannot be read (managed services may forbid CONFIG) is
 * no reason to refuse.
 * @throws ConfigError in production when the eviction policy is not noeviction.
 */
export async function checkRedisDurability(redis: Redis, production: boolean, logger: Logger): Promise<void> {
  const [eviction, appendOnly] = await Promise.all([unsafeEvictionPolicy(redis), readRedisSetting(redis, 'appendonly')]);
  if (eviction && production) {
    throw new ConfigError([
      `REDIS_URL: this Redis has maxmemory-policy ${eviction}, so it may evict sessions, codes and revocations; set maxmemory-policy noeviction (README, Deploying)`,
    ]);
  }
  if (eviction) logger.warn({ maxmemoryPolicy: eviction }, 'Redis may evict sessions, codes and tokens under memory pressure: set maxmemory-policy noeviction (see README, Deploying)');
  if (appendOnly === 'no') logger.warn({ appendonly: appendOnly }, 'Redis keeps no append-only file: a Redis restart signs everyone out; set appendonly yes, appendfsync everysec (see README, Deploying)');
}
