import { AppError } from '../errors.ts';
import type { PasswordHasher } from './passwords.ts';

/** Every hashing slot stayed busy for the whole wait: the request is refused, not queued without end. */
export class HashingBusyError extends AppError {
  readonly retryAfterSeconds: number;

  constructor(retryAfterSeconds: number) {
    super(503, 'busy', 'The service is busy. Try again in a few seconds.', { expose: true });
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

export interface HashSlots {
  /** Runs `work` once a slot is free. @throws HashingBusyError when none frees up within the wait. */
  run<T>(work: () => Promise<T>): Promise<T>;
}

/**
 * At most `max` argon2 computations at once, the rest waiting in order for at most `waitMs` (ABU-05).
 * argon2 holds a libuv thread and tens of MiB per hash, so a flood of sign-ins would otherwise take
 * every thread the token endpoint and discovery also need. A freed slot passes straight to the next
 * waiter. One instance per process, shared by every hasher in it.
 */
export function createHashSlots(limits: { maxConcurrent: number; queueTimeoutMs: number }): HashSlots {
  let active = 0;
  const waiting: Array<() => void> = [];

  const acquire = (): Promise<void> => {
    if (active < limits.maxConcurrent) {
      active += 1;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const granted = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        waiting.splice(waiting.indexOf(granted), 1);
        reject(new HashingBusyError(Math.max(1, Math.ceil(limits.queueTimeoutMs / 1000))));
      }, limits.queueTimeoutMs);
      waiting.push(granted);
    });
  };
  const release = () => {
    const next = waiting.shift();
    if (next) next(); // the slot passes on; `active` is unchanged
    else active -= 1;
  };

  return {
    async run(work) {
      await acquire();
      try {
        return await work();
      } finally {
        release();
      }
    },
  };
}

/** The same hasher, each argon2 computation taking a slot first (needsRehash only reads the hash). */
export function withHashSlots(hasher: PasswordHasher, slots: HashSlots): PasswordHasher {
  return {
    hash: (password) => slots.run(() => hasher.hash(password)),
    verify: (hash, password) => slots.run(() => hasher.verify(hash, password)),
    needsRehash: (hash) => hasher.needsRehash(hash),
    decoyVerify: (password) => slots.run(() => hasher.decoyVerify(password)),
  };
}
