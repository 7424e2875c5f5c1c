import { RateLimiterMemory, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { AppError } from '../errors.ts';

/** One limit: at most `points` requests per key in a fixed window of `durationSeconds`. */
export interface LimitRule {
  /** Stable, kebab-case; part of the store key (`<prefix>rl:<name>:<key>` in Redis). */
  readonly name: string;
  readonly points: number;
  readonly durationSeconds: number;
}

/**
 * Where counters live: a function from a rule to its limiter. The one place the store is chosen (app.ts
 * passes Redis or memory), so later limits (sign-in, MFA: issue 7) reuse the same store.
 */
export type LimiterStore = (rule: LimitRule) => RateLimiterAbstract;

/**
 * Counters in this process's memory. Exact on the embedded store, which is single-process by
 * construction (its lock file keeps a second process out). On Postgres without Redis each replica would
 * count on its own, multiplying every limit by the replica count (ABU-04): that is tolerated only outside
 * production, and config refuses production without REDIS_URL.
 */
export function createMemoryLimiterStore(): LimiterStore {
  return (rule) => new RateLimiterMemory({ keyPrefix: `rl:${rule.name}`, points: rule.points, duration: rule.durationSeconds });
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

/**
 * Counts one point against `limiter`. A refusal carries the wait; any other failure is the store's and
 * fails closed.
 * @throws RateLimitUnavailableError when the store cannot be reached.
 */
async function consume(limiter: RateLimiterAbstract, key: string): Promise<LimitVerdict> {
  try {
    await limiter.consume(key);
    return { ok: true };
  } catch (rejection) {
    if (rejection instanceof RateLimiterRes) {
      return { ok: false, error: new TooManyRequestsError(Math.max(1, Math.ceil(rejection.msBeforeNext / 1000))) };
    }
    throw new RateLimitUnavailableError(rejection);
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
