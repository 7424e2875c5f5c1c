import { RateLimiterMemory, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { AppError } from '../errors.ts';

/** One limit: at most `points` requests per key in a fixed window of `durationSeconds`. */
export interface LimitRule {
  /** Stable, kebab-case; part of the store key (`<prefix>rl:<name>:<key>` in Redis). */
  readonly name: string;
  readonly points: number;
  readonly durationSeconds: number;
  /** Once `points` is exceeded, refuse the key for this long (default: until the window ends). */
  readonly blockSeconds?: number;
}

/**
 * Where counters live: a function from a rule to its limiter. The one place the store is chosen (app.ts
 * passes Redis, Postgres or memory), so every limit (account pages, sign-in, client authentication) uses
 * the same store.
 */
export type LimiterStore = (rule: LimitRule) => RateLimiterAbstract;

/**
 * Counters in this process's memory: only for the embedded store, where they are exact because the store
 * is single-process by construction (its lock file keeps a second process out). With DATABASE_URL the
 * counters live in Postgres (storage/postgres/rate-limit-store.ts) and with REDIS_URL in Redis, never in a
 * replica's memory, which would multiply every limit by the replica count (ABU-04).
 */
export function createMemoryLimiterStore(): LimiterStore {
  return (rule) =>
    new RateLimiterMemory({ keyPrefix: `rl:${rule.name}`, points: rule.points, duration: rule.durationSeconds, blockDuration: rule.blockSeconds ?? 0 });
}

const HOUR = 3600;

/**
 * The account pages' limits (ABU-02, REC-02). Fixed here on purpose: they only need to stop volume
 * (mail bombing, account spraying, token guessing), no honest user comes near them, and tests pin the
 * client IP with X-Forwarded-For instead of lowering them.
 */
export const ACCOUNT_LIMITS = {
  registerPerIp: { name: 'register-ip', points: 10, durationSeconds: HOUR },
  registerPerEmail: { name: 'register-email', points: 3, durationSeconds: HOUR },
  /** Forgot-password and "send the link again" share these: both mail an address on request. */
  mailRequestPerIp: { name: 'mail-request-ip', points: 10, durationSeconds: HOUR },
  mailRequestPerEmail: { name: 'mail-request-email', points: 5, durationSeconds: HOUR },
  /** Opening or using a reset / verification link (the token has 256 bits; REC-02 asks for a limit anyway). */
  tokenAttemptPerIp: { name: 'token-attempt-ip', points: 20, durationSeconds: 15 * 60 },
} as const satisfies Record<string, LimitRule>;

/** Too many requests for one key; the presenter shows `errors.too_many_requests`, the route sets Retry-After. */
export class TooManyRequestsError extends AppError {
  /** Whole seconds until the window that refused the request ends (at least 1). */
  readonly retryAfterSeconds: number;

  constructor(retryAfterSeconds: number) {
    const minutes = Math.max(1, Math.ceil(retryAfterSeconds / 60));
    super(429, 'too_many_requests', `Too many attempts. Try again in ${minutes} minutes.`);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** The limit store did not answer: refuse rather than let requests through uncounted (ABU-04). */
export class RateLimitUnavailableError extends AppError {
  constructor(cause: unknown) {
    super(503, 'rate_limit_unavailable', 'The rate-limit store is unavailable.', { cause });
  }
}

/** What a limit check decided; the route turns a refusal into 429 + Retry-After. */
export type LimitVerdict = { ok: true } | { ok: false; error: TooManyRequestsError };

/** The account pages' checks. Each counts one request before any argon2, database or mail work. */
export interface AccountRateLimits {
  /** POST /register: per client IP and per address as typed (existing or not). */
  register(ip: string, email: string): Promise<LimitVerdict>;
  /** POST /forgot-password and /verify-email/resend: per client IP and per address as typed. */
  mailRequest(ip: string, email: string): Promise<LimitVerdict>;
  /** A reset or verification link opened or submitted: per client IP. */
  tokenAttempt(ip: string): Promise<LimitVerdict>;
}

/**
 * The same key for the same mailbox however it is typed, so case or spaces do not buy extra attempts.
 * No lookup: an unknown address is limited exactly like a known one (ABU-03).
 */
const emailKey = (email: string) => email.trim().toLowerCase();

/** Whole seconds for Retry-After: at least 1, so a refusal never says "now". */
export const retryAfterSeconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

/**
 * Counts one point against `limiter`. A refusal carries the wait; any other failure is the store's and
 * fails closed.
 * @throws RateLimitUnavailableError when the store cannot be reached.
 */
export async function consume(limiter: RateLimiterAbstract, key: string): Promise<LimitVerdict> {
  try {
    await limiter.consume(key);
    return { ok: true };
  } catch (rejection) {
    if (rejection instanceof RateLimiterRes) {
      return { ok: false, error: new TooManyRequestsError(retryAfterSeconds(rejection.msBeforeNext)) };
    }
    throw new RateLimitUnavailableError(rejection);
  }
}

/**
 * The key's current count, without counting. A count that is not a number is the store's error too:
 * ioredis reports a failed GET inside MULTI as a reply, not a rejection, and "no number" must not read
 * as "no limit reached".
 * @throws RateLimitUnavailableError when the store cannot be reached or answers nonsense.
 */
export async function peek(limiter: RateLimiterAbstract, key: string): Promise<RateLimiterRes | null> {
  const counted = await storeCall(() => limiter.get(key));
  if (counted && !Number.isFinite(counted.consumedPoints)) throw new RateLimitUnavailableError(new Error(`unreadable counter for ${key}`));
  return counted;
}

/**
 * Any other call on the store (get, block, reward, delete), failing closed like `consume`.
 * @throws RateLimitUnavailableError when the store cannot be reached.
 */
export async function storeCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw new RateLimitUnavailableError(error);
  }
}

/** Checks in order and stops at the first refusal (a refused IP does not also spend the address's budget). */
async function all(...checks: (() => Promise<LimitVerdict>)[]): Promise<LimitVerdict> {
  for (const check of checks) {
    const verdict = await check();
    if (!verdict.ok) return verdict;
  }
  return { ok: true };
}

/** The account pages' limiters on `store`; build once per app so every request shares the counters. */
export function createAccountRateLimits(store: LimiterStore): AccountRateLimits {
  const registerPerIp = store(ACCOUNT_LIMITS.registerPerIp);
  const registerPerEmail = store(ACCOUNT_LIMITS.registerPerEmail);
  const mailPerIp = store(ACCOUNT_LIMITS.mailRequestPerIp);
  const mailPerEmail = store(ACCOUNT_LIMITS.mailRequestPerEmail);
  const tokenPerIp = store(ACCOUNT_LIMITS.tokenAttemptPerIp);
  return {
    register: (ip, email) => all(() => consume(registerPerIp, ip), () => consume(registerPerEmail, emailKey(email))),
    mailRequest: (ip, email) => all(() => consume(mailPerIp, ip), () => consume(mailPerEmail, emailKey(email))),
    tokenAttempt: (ip) => consume(tokenPerIp, ip),
  };
}
