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
 *
 * A pair found with no failures at all is remembered as clean for a second, so a busy client's token
 * requests do not each read the store (issue 13: the read was a third of a token request's CPU). A
 * failure counted here forgets that at once; one counted by another replica is seen here within the
 * second, which lets a guesser spread over replicas try at most that much longer.
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

/** How long a pair with no failures is trusted without reading the store again. */
export const CLEAN_FOR_MS = 1000;
/** Beyond this many remembered pairs the memory starts over (addresses are the attacker's to vary). */
const MAX_REMEMBERED = 10_000;
/** Client ids longer than this (none we register) are checked in the store every time. */
const MAX_REMEMBERED_ID = 200;

/** The in-memory key of a pair; undefined for a long, made-up id, which is never remembered. */
const rememberedAs = (clientId: string, ip: string) => (clientId.length <= MAX_REMEMBERED_ID ? `${clientId}\n${ip}` : undefined);

export function createClientAuthLimits(store: LimiterStore, limit: FailureLimit, now: () => number = performance.now.bind(performance)): ClientAuthLimits {
  const limiter = store({ name: 'client-auth', points: limit.maxFailures, durationSeconds: limit.windowSeconds });
  /** "client id, newline, IP" -> until when that pair is known to have no failures. */
  const clean = new Map<string, number>();
  return {
    async check(clientId, ip) {
      // Remembered by the plain pair: no digest to compute on the way in.
      const pair = rememberedAs(clientId, ip);
      if (pair !== undefined && (clean.get(pair) ?? 0) > now()) return { ok: true };
      const counted = await peek(limiter, keyOf(clientId, ip));
      if (!counted) {
        if (clean.size >= MAX_REMEMBERED) clean.clear();
        if (pair !== undefined) clean.set(pair, now() + CLEAN_FOR_MS);
        return { ok: true };
      }
      if (counted.consumedPoints < limit.maxFailures || counted.msBeforeNext <= 0) return { ok: true };
      return { ok: false, error: new TooManyRequestsError(retryAfterSeconds(counted.msBeforeNext)) };
    },
    async recordFailure(clientId, ip) {
      const key = keyOf(clientId, ip);
      const pair = rememberedAs(clientId, ip);
      if (pair !== undefined) clean.delete(pair);
      const counted = await storeCall(() => limiter.penalty(key, 1));
      if (counted.consumedPoints >= limit.maxFailures) await storeCall(() => limiter.block(key, limit.blockSeconds));
    },
  };
}
