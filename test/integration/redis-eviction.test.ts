import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { unsafeEvictionPolicy } from '../../src/storage/redis/client.ts';
import { startTestServer } from '../support/app.ts';
import { redisUrl, uniqueName } from '../support/backends.ts';

/**
 * Issue 8: Gatehouse warns at start-up when Redis may evict its keys. The test flips the real server's
 * maxmemory-policy for a moment: with maxmemory 0 (no limit, as on the CI Redis) a policy never evicts
 * anything, so other tests sharing this Redis are not affected; the original policy is put back.
 */
if (redisUrl) describe('Redis eviction policy at start-up', () => {
  let admin: Redis;
  let original = 'noeviction';

  beforeAll(async () => {
    admin = new Redis(redisUrl!);
    original = ((await admin.config('GET', 'maxmemory-policy')) as string[])[1] ?? 'noeviction';
  });

  afterAll(async () => {
    await admin.config('SET', 'maxmemory-policy', original);
    admin.disconnect();
  });

  async function startupWarnings(policy: string): Promise<string[]> {
    await admin.config('SET', 'maxmemory-policy', policy);
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
    const server = await startTestServer({ DATA_DIR: 'memory://', REDIS_URL: redisUrl!, REDIS_KEY_PREFIX: `${uniqueName('gh_evict')}:` }, { logger });
    await server.close();
    return lines.filter((line) => line.includes('maxmemory-policy'));
  }

  it('warns when keys may be evicted, naming the policy', async () => {
    const [warning, ...more] = await startupWarnings('allkeys-lru');
    expect(more).toEqual([]);
    expect(JSON.parse(warning!)).toMatchObject({ level: 40, maxmemoryPolicy: 'allkeys-lru' });
  });

  it('stays quiet with noeviction', async () => {
    expect(await startupWarnings('noeviction')).toEqual([]);
  });
});

describe('reading the eviction policy', () => {
  it('is no reason to warn or to refuse to start when it cannot be read (a managed Redis may forbid CONFIG)', async () => {
    const unreachable = new Redis('redis://127.0.0.1:1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
    unreachable.on('error', () => {});
    await expect(unsafeEvictionPolicy(unreachable)).resolves.toBeUndefined();
    unreachable.disconnect();
  });
});
