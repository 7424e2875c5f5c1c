import { sql } from 'kysely';
import type { AccountRow } from './database.ts';
import type { Db } from './db.ts';

/** The growing delay: from the `afterFailures`-th consecutive failure, `initialSeconds` doubling up to `maxSeconds`. */
export interface SignInDelayRule {
  readonly afterFailures: number;
  readonly initialSeconds: number;
  readonly maxSeconds: number;
}

/**
 * The exponent stops growing here: 2^30 s is far beyond any configured cap, and an unbounded power()
 * would overflow float8 for an account that keeps failing after its lock.
 */
const MAX_DOUBLINGS = 30;

/**
 * Counter writes commit asynchronously (synchronous_commit off for their transaction only): they skip the
 * WAL flush, the one slow step of a sign-in's limits on Postgres. A database crash can lose the last
 * fraction of a second of counting, never a lock (lockSignIn and unlockSignIn commit as usual).
 */
const ASYNC_COMMIT = sql`(select set_config('synchronous_commit', 'off', true))`;

/**
 * Admits one password attempt at the account with this email (matched like findAccountByEmail) unless
 * its delay is running. One UPDATE counts the attempt and, from the `afterFailures`-th on, starts the next
 * delay, so concurrent attempts queue on the row lock and only one passes per delay: the count is taken
 * before any argon2 work, never after it. It returns the whole row, the one the password check reads, so
 * an admitted sign-in costs this one round trip and no second lookup.
 * @returns the account as updated; undefined when no account has this email or its delay is running
 *   (findSignInDelay tells which).
 */
export function admitSignInAttempt(db: Db, email: string, now: Date, rule: SignInDelayRule): Promise<AccountRow | undefined> {
  const next = sql<number>`accounts.failed_sign_ins + 1`;
  const seconds = sql<number>`least(${rule.maxSeconds}::float8, ${rule.initialSeconds}::float8 * power(2::float8, least(${next} - ${rule.afterFailures}, ${MAX_DOUBLINGS})))`;
  return db
    .updateTable('accounts')
    .from(ASYNC_COMMIT.as('async_commit'))
    .set({
      failed_sign_ins: next,
      sign_in_delay_until: sql<Date | null>`case when ${next} >= ${rule.afterFailures} then ${now}::timestamptz + make_interval(secs => ${seconds}) else null end`,
    })
    .where(sql<string>`lower(email)`, '=', email.toLowerCase())
    .where((eb) => eb.or([eb('sign_in_delay_until', 'is', null), eb('sign_in_delay_until', '<=', now)]))
    .returningAll('accounts')
    .executeTakeFirst();
}

/** The account with this email and the end of its delay (read when admitSignInAttempt admitted nothing). */
export function findSignInDelay(db: Db, email: string): Promise<{ id: string; sign_in_delay_until: Date | null } | undefined> {
  return db
    .selectFrom('accounts')
    .select(['id', 'sign_in_delay_until'])
    .where(sql<string>`lower(email)`, '=', email.toLowerCase())
    .executeTakeFirst();
}

/** A correct password: the count and the delay start again from zero (a lock stays until it is cleared). */
export async function resetSignInFailures(db: Db, accountId: string): Promise<void> {
  await db
    .updateTable('accounts')
    .from(ASYNC_COMMIT.as('async_commit'))
    .set({ failed_sign_ins: 0, sign_in_delay_until: null })
    .where('id', '=', accountId)
    .where((eb) => eb.or([eb('failed_sign_ins', '>', 0), eb('sign_in_delay_until', 'is not', null)]))
    .execute();
}

/**
 * Locks the account's password. True only for the call that locked it: a concurrent second call waits
 * for the row, sees locked_at set and changes nothing, so the owner is told once.
 */
export async function lockSignIn(db: Db, accountId: string, now: Date): Promise<boolean> {
  const rows = await db
    .updateTable('accounts')
    .set({ locked_at: now, updated_at: now })
    .where('id', '=', accountId)
    .where('locked_at', 'is', null)
    .returning('id')
    .execute();
  return rows.length > 0;
}

/**
 * Clears the lock, the count and the delay (a password reset, `gatehouse user unlock`).
 * @returns whether the password was locked; undefined when there is no such account.
 */
export async function unlockSignIn(db: Db, accountId: string, now: Date): Promise<boolean | undefined> {
  // The CTE reads the row as it was (and locks it), so the answer is about this unlock, not a later one.
  const row = await db
    .with('before', (qb) => qb.selectFrom('accounts').select(['id', 'locked_at']).where('id', '=', accountId).forUpdate())
    .updateTable('accounts')
    .from('before')
    .set({ failed_sign_ins: 0, sign_in_delay_until: null, locked_at: null, updated_at: now })
    .whereRef('accounts.id', '=', 'before.id')
    .returning(sql<Date | null>`before.locked_at`.as('was_locked_at'))
    .executeTakeFirst();
  return row === undefined ? undefined : row.was_locked_at !== null;
}
