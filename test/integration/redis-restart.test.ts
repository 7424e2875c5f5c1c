import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { createRedisClient } from '../../src/storage/redis/client.ts';
import { startTestServer, type TestServer } from '../support/app.ts';
import { redisUrl } from '../support/backends.ts';
import {
  exchange,
  expectEveryStepRefused,
  expectNoPileUp,
  expectRecovered,
  OUTAGE_BOUND_MS,
  readyAgain,
  signInBefore,
  startFlow,
} from '../support/fault-flows.ts';
import { UserAgent } from '../support/browserless.ts';
import { seedBasics, USER } from '../support/fixtures.ts';
import { rawAuthorization, signInThroughForms } from '../support/forms.ts';
import { REDIRECT_URI } from '../support/e2e.ts';
import { startOwnRedis, type OwnRedis } from '../support/redis-server.ts';

/*
 * REL-F1, REL-F2 and REL-F10: a Redis of the test's own, with AOF as the README asks (appendonly yes,
 * appendfsync everysec), paused, restarted cleanly and killed under a running Gatehouse (CLIENT PAUSE or a
 * SHUTDOWN on the machine's shared Redis would stall every other test). The app is never restarted.
 */

describe('a Redis client that cannot connect', () => {
  it('fails a command within its command timeout, even before its first connection (nothing waits for Redis)', async () => {
    const redis = createRedisClient('redis://127.0.0.1:1', { commandMs: 300, connectMs: 300 });
    redis.on('error', () => {}); // refused, as intended
    try {
      const started = performance.now();
      await expect(redis.get('anything')).rejects.toThrow();
      expect(performance.now() - started).toBeLessThan(1_000);
    } finally {
      redis.disconnect();
    }
  });
});

if (redisUrl) {
  describe('Gatehouse on a Redis with AOF (everysec) that restarts', () => {
    let redis: OwnRedis;
    let server: TestServer;

    beforeAll(async () => {
      redis = await startOwnRedis();
      server = await startTestServer({ DATA_DIR: 'memory://', REDIS_URL: redis.url });
      await seedBasics(server);
    });

    afterAll(async () => {
      await server?.close();
      await redis?.remove();
    });

    it('REL-F1 clean restart (SHUTDOWN): 503 fast while it is down, back by itself within 5 s, and nothing lost', async () => {
      const before = await signInBefore(server);
      const flow = await startFlow(server);
      await redis.shutdown();
      await expectEveryStepRefused(server, flow, before, 'redis');
      await redis.start();
      expect(await readyAgain(server)).toBeLessThan(5_000);

      // The session from before the restart still signs in without a password.
      const silent = rawAuthorization(server.issuer, { client_id: 'web', redirect_uri: REDIRECT_URI, prompt: 'none' });
      const { url } = await before.ua.follow(silent.url, server.issuer);
      expect(new URL(url).searchParams.get('code')).toBeTruthy();
      // Its refresh token still works and its used code is still used; the interrupted sign-in completes.
      await expectRecovered(server, flow, before);
    });

    it('REL-F10 CLIENT PAUSE 3000: requests end at the command timeout with 503, all of them at once, and service resumes by itself', async () => {
      const admin = new Redis(redis.url);
      try {
        await admin.call('CLIENT', 'PAUSE', '3000', 'ALL');
        // Event-loop lag is printed, not asserted: a busy machine (the other test worker hashing) moves it.

        console.log(`REL-F10 event-loop lag p99 during the outage: ${(await expectNoPileUp(server, 20, OUTAGE_BOUND_MS)).toFixed(0)} ms`);
      } finally {
        admin.disconnect();
      }
      expect(await readyAgain(server)).toBeLessThan(5_000);
      expect((await signInBefore(server)).accessToken).toBeTruthy();
    });

    it('REL-F2 crash (kill -9): a code used more than a second before the crash stays used; the final second is counted', async () => {
      const first = await signInBefore(server);
      // Five more codes, each from a sign-in of its own: a replay revokes its whole grant, so codes that
      // shared one would hide each other's fate.
      const late = [];
      for (let n = 0; n < 5; n += 1) {
        const auth = rawAuthorization(server.issuer, { client_id: 'web', redirect_uri: REDIRECT_URI });
        const callback = await signInThroughForms(new UserAgent(), server.issuer, auth.url, USER.email, USER.password);
        late.push({ code: callback.searchParams.get('code')!, verifier: auth.verifier });
      }
      // everysec: give the AOF a full second and more to reach the disk.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      // Used in the last moment before the crash.
      const used = await Promise.all(late.map(({ code, verifier }) => exchange(server, code, verifier)));
      await redis.kill();
      await redis.start();
      expect(await readyAgain(server)).toBeLessThan(5_000);

      // The security invariant: used well before the crash, so on disk, so refused.
      const replayed = await exchange(server, first.code, first.verifier);
      expect(replayed.status).toBe(400);
      expect(((await replayed.json()) as { error: string }).error).toBe('invalid_grant');

      // The window everysec documents ("may lose 1 second of data"): measured and reported, not asserted.
      expect(used.map((response) => response.status)).toEqual(late.map(() => 200));
      const replays = await Promise.all(late.map(({ code, verifier }) => exchange(server, code, verifier)));
      const lost = replays.filter((response) => response.status === 200).length;
      process.stdout.write(`REL-F2: ${lost} of ${late.length} codes used just before kill -9 were usable again after the restart\n`);
      expect(replays.every((response) => response.status === 200 || response.status === 400)).toBe(true);
    });
  });
}
