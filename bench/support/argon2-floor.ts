import argon2 from 'argon2';
import type { Config } from '../../src/config/load.ts';

export interface Argon2Floor {
  /** argon2id verifies per second with every libuv thread busy: no password sign-in can beat it. */
  verifiesPerSecond: number;
  /** CPU time of one verify (this process's user + system time over sequential verifies), in ms. */
  cpuMsPerVerify: number;
}

/**
 * Raw argon2id verifies at Gatehouse's production parameters, in this process (same cores, same Node,
 * the same argon2 binding), while both servers sit idle: first one at a time for the CPU each costs,
 * then as many at once as libuv has threads for the rate.
 */
export async function measureArgon2Floor(cost: Config['argon2'], seconds: number): Promise<Argon2Floor> {
  const password = 'a long benchmark password, not in any list';
  const hash = await argon2.hash(password, { type: argon2.argon2id, ...cost });
  for (let i = 0; i < 3; i += 1) await argon2.verify(hash, password); // warm-up

  const sequential = 20;
  const before = process.cpuUsage();
  for (let i = 0; i < sequential; i += 1) await argon2.verify(hash, password);
  const used = process.cpuUsage(before);
  const cpuMsPerVerify = (used.user + used.system) / 1000 / sequential;

  const threads = Number(process.env.UV_THREADPOOL_SIZE) || 4;
  let count = 0;
  const started = performance.now();
  const until = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: threads }, async () => {
      while (performance.now() < until) {
        await argon2.verify(hash, password);
        count += 1;
      }
    }),
  );
  return { verifiesPerSecond: count / ((performance.now() - started) / 1000), cpuMsPerVerify };
}
