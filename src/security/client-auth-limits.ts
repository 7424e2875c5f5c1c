import { createHash } from 'node:crypto';
import type { FailureLimit } from '../config/load.ts';
import { peek, retryAfterSeconds, storeCall, TooManyRequestsError, type LimiterStore, type LimitVerdict } from './rate-limits.ts';

/**
 * Failed client authentications per (client_id, client IP) at the endpoints that authenticate clients
 * (issue 7, ABU-02): after `maxFailures` in `windowSeconds`, that pair is refused for `blockSeconds`
 * before the secret is even compared. Another IP, and so the real client, is not affected.
 *
 * The check only reads and a failure is counted after it happened: comparing a client secret costs
 * nothing like an argon2 verify, so a burst of parallel guesses can overshoot the limit by the burst's
 * size, and in exchange a correct client pays one read per request, not a write.
 */
export interface ClientAuthLimits {
  /**
   * Whether this client may try to authenticate from this IP now. Counts nothing.
   * @throws RateLimitUnavailableError when the store does not answer (fail closed).
   */
  check(clientId: string, ip: string): Promise<LimitVerdict>;
  /**
   * Counts one failed client authentication; the last allowed one blocks the pair.
   * @throws RateLimitUnavailableError when the store does not answer.
   */
  recordFailure(clientId: string, ip: string): Promise<void>;
}

/** Client ids come from the request unchecked: hashed, so any length or character fits a store key. */
const keyOf = (clientId: string, ip: string) => `${createHash('sha256').update(clientId).digest('base64url').slice(0, 22)}:${ip}`;

export function createClientAuthLimits(store: LimiterStore, limit: FailureLimit): ClientAuthLimits {
  const limiter = store({ name: 'client-auth', points: limit.maxFailures, durationSeconds: limit.windowSeconds });
  return {
    async check(clientId, ip) {
      const counted = await peek(limiter, keyOf(clientId, ip));
      if (!counted || counted.consumedPoints < limit.maxFailures || counted.msBeforeNext <= 0) return { ok: true };
      return { ok: false, error: new TooManyRequestsError(retryAfterSeconds(counted.msBeforeNext)) };
    },
    async recordFailure(clientId, ip) {
      const key = keyOf(clientId, ip);
      const counted = await storeCall(() => limiter.penalty(key, 1));
      if (counted.consumedPoints >= limit.maxFailures) await storeCall(() => limiter.block(key, limit.blockSeconds));
    },
  };
}
