import { createHash } from 'node:crypto';
import type { LimitsConfig } from '../config/load.ts';
import type { Locale } from '../i18n/locales.ts';
import type { MailQueue } from '../recovery/ports.ts';
import type { Db } from '../storage/postgres/db.ts';
import type { AccountRow } from '../storage/postgres/database.ts';
import { admitSignInAttempt, findSignInDelay, lockSignIn, resetSignInFailures } from '../storage/postgres/sign-in-lock.queries.ts';
import { consume, retryAfterSeconds, storeCall, TooManyRequestsError, type LimiterStore, type LimitVerdict } from './rate-limits.ts';

/**
 * The password sign-in's limits (issue 7: ABU-01, ABU-02, ABU-03, ABU-04), one check before the argon2
 * verify and one after it:
 *
 * | limit   | key              | store          | rule (defaults)                                          |
 * | ------- | ---------------- | -------------- | -------------------------------------------------------- |
 * | ip      | client IP        | limiter store  | 20 attempts that did not succeed / 10 min, then blocked  |
 * | pair    | (email, IP)      | limiter store  | 5 per 15 min, then that pair blocked 15 min              |
 * | account | the account      | accounts table | from the 5th consecutive failure a delay (1 s doubling,  |
 * |         |                  |                | 15 min at most); the 100th locks the password            |
 *
 * Every attempt is counted before any argon2 work and given back only by a correct password, so parallel
 * guesses cannot outrun the counters and a refused attempt costs a few store round trips, never a hash.
 * The pair block is what keeps the lockout from being a denial of service: a stranger's guesses block
 * only their own (account, IP) pairs, and the owner elsewhere waits at most the current account delay.
 * The lock at 100 (NIST SP 800-63B-4 §3.2.2) is the exception; the owner is mailed and a reset lifts it.
 *
 * No enumeration (ABU-03): keys are the email as typed (normalised), never a lookup, so an unknown
 * address spends the same ip and pair budgets; and an unknown address gets the account delay too,
 * counted in the limiter store (kept 20 days; a known account's count is kept until it succeeds).
 */
export interface SignInLimits {
  /**
   * Counts one password attempt by `ip` at `email`, or refuses it with the wait.
   * @throws RateLimitUnavailableError when the limiter store does not answer (ABU-04: fail closed, 503).
   */
  admit(ip: string, email: string): Promise<SignInAdmission>;
}

export type SignInLimitName = 'ip' | 'pair' | 'account';

export type SignInAdmission =
  | { ok: true; attempt: SignInAttempt }
  /** `accountId` only when the account's own delay refused (the other limits never look the email up). */
  | { ok: false; limit: SignInLimitName; error: TooManyRequestsError; accountId?: string };

export interface SignInAttempt {
  /** The account the email names, if any. */
  readonly accountId: string | undefined;
  /** Its row as admitted: what the password check reads (src/accounts/authenticate.ts checkPassword). */
  readonly account: AccountRow | undefined;
  /** Consecutive failures at this account (or unknown address) including this attempt. */
  readonly failures: number;
  /**
   * Records how the password check ended. A correct password clears the pair, the account's count and
   * its delay, and gives the IP its point back; a wrong one keeps them, and at the lock threshold locks
   * the password and queues the owner's mail in the same transaction.
   * @returns `locked: true` only for the failure that locked the account.
   * @throws RateLimitUnavailableError when the limiter store does not answer.
   */
  settle(passwordAccepted: boolean): Promise<{ locked: boolean }>;
}

export interface SignInLimitsDeps {
  /** Where the ip, pair and unknown-address counters live (Redis, Postgres or, embedded, memory). */
  store: LimiterStore;
  /** The accounts table, where each account's count, delay and lock live. */
  db: Db;
  limits: LimitsConfig['signIn'];
  now(): Date;
  /** The owner's "account locked" mail: in the server's default language (the request's is the attacker's). */
  lockMail: { mail: MailQueue; locale: Locale; resetUrl: string };
}

/** How long an unknown address's failures are remembered (the memory store's timers stop at 24.8 days). */
const UNKNOWN_ADDRESS_MEMORY_SECONDS = 20 * 24 * 3600;

/** Seconds of delay after `failures` consecutive failures; the same rule as admitSignInAttempt's SQL. */
export function delaySeconds(failures: number, rule: LimitsConfig['signIn']['delay']): number {
  if (failures < rule.afterFailures) return 0;
  return Math.min(rule.maxSeconds, rule.initialSeconds * 2 ** Math.min(failures - rule.afterFailures, 30));
}

/** The same key for the same mailbox however it is typed; hashed so no address sits in Redis or a table. */
function emailKey(email: string): string {
  return createHash('sha256').update(email.trim().toLowerCase()).digest('base64url');
}

const refusal = (limit: SignInLimitName, verdict: Extract<LimitVerdict, { ok: false }>): SignInAdmission => ({ ok: false, limit, error: verdict.error });

export function createSignInLimits(deps: SignInLimitsDeps): SignInLimits {
  const { limits, db } = deps;
  const perIp = deps.store({ name: 'sign-in-ip', points: limits.ip.maxFailures, durationSeconds: limits.ip.windowSeconds, blockSeconds: limits.ip.blockSeconds });
  const perPair = deps.store({ name: 'sign-in-pair', points: limits.pair.maxFailures, durationSeconds: limits.pair.windowSeconds, blockSeconds: limits.pair.blockSeconds });
  const unknownFailures = deps.store({ name: 'sign-in-unknown', points: 2 ** 31 - 1, durationSeconds: UNKNOWN_ADDRESS_MEMORY_SECONDS });
  // The turn an unknown address's delay gives (accountGate): held for a moment, then blocked for the delay itself.
  const unknownDelay = deps.store({ name: 'sign-in-unknown-delay', points: 1, durationSeconds: limits.delay.initialSeconds });

  type AccountGate = { ok: true; account?: AccountRow; failures: number } | { ok: false; waitMs: number; accountId?: string };

  /**
   * The account's own gate: a known account's count and delay in one statement (admitSignInAttempt says
   * why); an unknown address gets the same delay, counted in the limiter store, so guesses at made-up
   * addresses write nothing to the database.
   */
  async function accountGate(email: string, key: string, now: Date): Promise<AccountGate> {
    const admitted = email === '' ? undefined : await admitSignInAttempt(db, email, now, limits.delay);
    if (admitted) return { ok: true, account: admitted, failures: admitted.failed_sign_ins };
    // Not admitted: an account whose delay runs, or an address no account has. The account is read and
    // the unknown address's attempt counted at once (a known account never reads that counter).
    const [delayed, counted] = await Promise.all([email === '' ? undefined : findSignInDelay(db, email), storeCall(() => unknownFailures.penalty(key, 1))]);
    // A delay that has already ended here means the account appeared or its delay ended between the statements: 1 s.
    if (delayed) return { ok: false, waitMs: (delayed.sign_in_delay_until?.getTime() ?? now.getTime()) - now.getTime(), accountId: delayed.id };
    const wait = delaySeconds(counted.consumedPoints, limits.delay);
    if (wait > 0) {
      // From the delay's first attempt on, one attempt per delay, as a known account's row lock allows (ABU-03,
      // also for parallel guesses): the attempt that takes the turn starts the next delay; one that finds
      // the turn taken is refused and its count given back.
      const turn = await consume(unknownDelay, key);
      if (!turn.ok) {
        await storeCall(() => unknownFailures.reward(key, 1));
        return { ok: false, waitMs: turn.error.retryAfterSeconds * 1000 };
      }
      await storeCall(() => unknownDelay.block(key, wait));
    }
    return { ok: true, failures: counted.consumedPoints };
  }

  return {
    async admit(ip, typedEmail) {
      const email = typedEmail.trim();
      const key = emailKey(email);
      const pairKey = `${key}:${ip}`;
      // Both are counted whatever the other says (one round trip, not two): a refused attempt is still an attempt.
      const [byIp, byPair] = await Promise.all([consume(perIp, ip), consume(perPair, pairKey)]);
      if (!byIp.ok) return refusal('ip', byIp);
      if (!byPair.ok) return refusal('pair', byPair);
      // Only then the account's gate: an attempt refused above never counts toward the account's delay or lock.
      const gate = await accountGate(email, key, deps.now());
      if (!gate.ok) return { ok: false, limit: 'account', error: new TooManyRequestsError(retryAfterSeconds(gate.waitMs)), accountId: gate.accountId };
      const { account, failures } = gate;
      const accountId = account?.id;
      return {
        ok: true,
        attempt: {
          accountId,
          account,
          failures,
          async settle(passwordAccepted) {
            if (passwordAccepted) {
              await Promise.all([
                storeCall(() => perPair.delete(pairKey)),
                storeCall(() => perIp.reward(ip, 1)),
                accountId ? resetSignInFailures(db, accountId) : undefined,
              ]);
              return { locked: false };
            }
            if (!accountId || failures < limits.lockAfterFailures) return { locked: false };
            const { mail, locale, resetUrl } = deps.lockMail;
            const locked = await db.transaction().execute(async (trx) => {
              if (!(await lockSignIn(trx, accountId, deps.now()))) return false;
              await mail.queue(account!.email, 'account-locked', locale, { resetUrl, failures }, trx);
              return true;
            });
            return { locked };
          },
        },
      };
    },
  };
}
