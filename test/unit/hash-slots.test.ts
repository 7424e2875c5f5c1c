import { describe, expect, it } from '@jest/globals';
import { createHashSlots, HashingBusyError } from '../../src/security/hash-slots.ts';

/** ABU-05: a bounded number of argon2 computations at once, the rest waiting a bounded time. */
describe('hashing slots', () => {
  const gate = () => {
    let open!: () => void;
    const opened = new Promise<void>((resolve) => (open = resolve));
    return { opened, open };
  };

  it('never runs more than the limit at once, and serves waiters in order as slots free up', async () => {
    const slots = createHashSlots({ maxConcurrent: 2, queueTimeoutMs: 5000 });
    let running = 0;
    let most = 0;
    const order: number[] = [];
    const task = (index: number) =>
      slots.run(async () => {
        running += 1;
        most = Math.max(most, running);
        await new Promise((resolve) => setTimeout(resolve, 5));
        order.push(index);
        running -= 1;
      });
    await Promise.all([0, 1, 2, 3, 4, 5, 6].map(task));
    expect(most).toBe(2);
    expect(order.slice(2)).toEqual([2, 3, 4, 5, 6]);
  });

  it('refuses a waiter after the wait with a 503 that says when to come back, and the slot count stays right', async () => {
    const slots = createHashSlots({ maxConcurrent: 1, queueTimeoutMs: 20 });
    const held = gate();
    const holder = slots.run(() => held.opened);
    const refused = slots.run(async () => 'never');
    await expect(refused).rejects.toBeInstanceOf(HashingBusyError);
    await expect(refused).rejects.toMatchObject({ status: 503, code: 'busy', retryAfterSeconds: 1, expose: true });
    held.open();
    await holder;
    // The refused waiter left the queue: the next task runs at once.
    await expect(slots.run(async () => 'ran')).resolves.toBe('ran');
  });

  it('frees the slot when the work fails', async () => {
    const slots = createHashSlots({ maxConcurrent: 1, queueTimeoutMs: 20 });
    await expect(slots.run(async () => Promise.reject(new Error('argon2 failed')))).rejects.toThrow('argon2 failed');
    await expect(slots.run(async () => 'next')).resolves.toBe('next');
  });
});
