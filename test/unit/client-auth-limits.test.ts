import { describe, expect, it } from '@jest/globals';
import { CLEAN_FOR_MS, createClientAuthLimits } from '../../src/security/client-auth-limits.ts';
import { createMemoryLimiterStore, type LimiterStore } from '../../src/security/rate-limits.ts';

const LIMIT = { maxFailures: 3, windowSeconds: 600, blockSeconds: 900 };

/** One store shared like Redis is by replicas, counting the reads the checks make. */
function sharedStore() {
  const inner = createMemoryLimiterStore();
  const reads = { count: 0 };
  const limiters = new Map<string, ReturnType<LimiterStore>>();
  const store: LimiterStore = (rule) => {
    let limiter = limiters.get(rule.name);
    if (!limiter) {
      limiter = inner(rule);
      const get = limiter.get.bind(limiter);
      limiter.get = (...args: Parameters<typeof get>) => {
        reads.count += 1;
        return get(...args);
      };
      limiters.set(rule.name, limiter);
    }
    return limiter;
  };
  return { store, reads };
}

describe('client-authentication limit (ABU-02)', () => {
  it('reads the store once a second for a client with no failures, not on every request', async () => {
    const { store, reads } = sharedStore();
    let clock = 0;
    const limits = createClientAuthLimits(store, LIMIT, () => clock);
    for (let i = 0; i < 50; i += 1) expect(await limits.check('web', '10.0.0.1')).toEqual({ ok: true });
    expect(reads.count).toBe(1);
    clock += CLEAN_FOR_MS + 1;
    await limits.check('web', '10.0.0.1');
    expect(reads.count).toBe(2);
  });

  it('blocks at once after its own failures, and within the second after another replica blocked the pair', async () => {
    const { store } = sharedStore();
    let clock = 0;
    const here = createClientAuthLimits(store, LIMIT, () => clock);
    const there = createClientAuthLimits(store, LIMIT, () => clock);
    // A pair with failures is never remembered as clean: each check reads the count.
    expect((await here.check('svc', '10.0.0.2')).ok).toBe(true);
    for (let i = 0; i < LIMIT.maxFailures; i += 1) await here.recordFailure('svc', '10.0.0.2');
    expect(await here.check('svc', '10.0.0.2')).toMatchObject({ ok: false, error: { status: 429 } });

    expect((await here.check('svc', '10.0.0.3')).ok).toBe(true);
    for (let i = 0; i < LIMIT.maxFailures; i += 1) await there.recordFailure('svc', '10.0.0.3');
    expect((await there.check('svc', '10.0.0.3')).ok).toBe(false);
    clock += CLEAN_FOR_MS + 1;
    expect(await here.check('svc', '10.0.0.3')).toMatchObject({ ok: false, error: { status: 429 } });
    // Another client at that address is not affected.
    expect((await here.check('web', '10.0.0.3')).ok).toBe(true);
  });
});
