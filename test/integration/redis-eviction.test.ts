import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { unsafeEvictionPolicy } from '../../src/storage/redis/client.ts';
import { startTestServer } from '../support/app.ts';
import { createTestDatabase, postgresUrl, redisUrl, uniqueName } from '../support/backends.ts';

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

  async function startupLog(policy: string): Promise<string[]> {
    await admin.config('SET', 'maxmemory-policy', policy);
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
    const server = await startTestServer({ DATA_DIR: 'memory://', REDIS_URL: redisUrl!, REDIS_KEY_PREFIX: `${uniqueName('gh_evict')}:` }, { logger });
    await server.close();
    return lines;
  }
  const startupWarnings = async (policy: string) => (await startupLog(policy)).filter((line) => line.includes('maxmemory-policy'));

  it('warns when keys may be evicted, naming the policy', async () => {
    const [warning, ...more] = await startupWarnings('allkeys-lru');
    expect(more).toEqual([]);
    expect(JSON.parse(warning!)).toMatchObject({ level: 40, maxmemoryPolicy: 'allkeys-lru' });
  });

  it('stays quiet with noeviction', async () => {
    expect(await startupWarnings('noeviction')).toEqual([]);
  });

  it('warns when Redis keeps no append-only file, and only then', async () => {
    const appendOnly = ((await admin.config('GET', 'appendonly')) as string[])[1];
    const warned = (await startupLog('noeviction')).some((line) => line.includes('append-only'));
    expect(warned).toBe(appendOnly === 'no');
  });

  if (postgresUrl) {
    it('refuses to start in production when keys may be evicted, naming the policy and the fix (OPS-02)', async () => {
      const database = await createTestDatabase();
      await admin.config('SET', 'maxmemory-policy', 'volatile-lru');
      try {
        const production = {
          NODE_ENV: 'production',
          ISSUER: 'https://id.example.com',
          DATABASE_URL: database.url,
          REDIS_URL: redisUrl!,
          REDIS_KEY_PREFIX: `${uniqueName('gh_evict')}:`,
          SMTP_URL: 'smtp://127.0.0.1:2525',
          COOKIE_SECRETS: 'x'.repeat(32),
        };
        await expect(startTestServer(production)).rejects.toThrow(/REDIS_URL: .*maxmemory-policy volatile-lru.*noeviction/);
        // The same production settings with noeviction get past the check (to the migrations).
        await admin.config('SET', 'maxmemory-policy', 'noeviction');
        const server = await startTestServer(production);
        await server.close();
      } finally {
        await database.drop();
      }
    });
  }
});

describe('reading the eviction policy', () => {
  it('is no reason to warn or to refuse to start when it cannot be read (a managed Redis may forbid CONFIG)', async () => {
    const unreachable = new Redis('redis://127.0.0.1:1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
    unreachable.on('error', () => {});
    await expect(unsafeEvictionPolicy(unreachable)).resolves.toBeUndefined();
    unreachable.disconnect();
  });
});
