import { sql } from 'kysely';
import type { Db } from './db.ts';
import type { AccountTotpRow } from './database.ts';

export function findTotp(db: Db, accountId: string): Promise<AccountTotpRow | undefined> {
  return db.selectFrom('account_totp').selectAll().where('account_id', '=', accountId).executeTakeFirst();
}

/** Starts (or restarts) an enrolment; an active authenticator is never overwritten here. */
export async function savePendingTotp(db: Db, accountId: string, secretEncrypted: string, now: Date): Promise<boolean> {
  const rows = await db
    .insertInto('account_totp')
    .values({ account_id: accountId, secret_encrypted: secretEncrypted, created_at: now })
    .onConflict((oc) =>
      oc.column('account_id').doUpdateSet({ secret_encrypted: secretEncrypted, created_at: now, failed_attempts: 0, locked_at: null }).where('account_totp.activated_at', 'is', null),
    )
    .returning('account_id')
    .execute();
  return rows.length > 0;
}

/** Activates a pending enrolment with its first accepted step; false if it was not pending. */
export async function activateTotp(db: Db, accountId: string, step: number, now: Date): Promise<boolean> {
  const rows = await db
    .updateTable('account_totp')
    .set({ activated_at: now, last_used_step: step })
    .where('account_id', '=', accountId)
    .where('activated_at', 'is', null)
    .returning('account_id')
    .execute();
  return rows.length > 0;
}

/**
 * Accepts a code's time step only if it is newer than the last accepted one, in one statement: two
 * concurrent submissions of the same code cannot both pass (MFA-02). Resets the failure count.
 */
export async function acceptTotpStep(db: Db, accountId: string, step: number): Promise<boolean> {
  const rows = await db
    .updateTable('account_totp')
    .set({ last_used_step: step, failed_attempts: 0 })
    .where('account_id', '=', accountId)
    .where('activated_at', 'is not', null)
    .where('locked_at', 'is', null)
    .where((eb) => eb.or([eb('last_used_step', 'is', null), eb('last_used_step', '<', sql<string>`${step}`)]))
    .returning('account_id')
    .execute();
  return rows.length > 0;
}

/** Counts a wrong code; locks the authenticator at `max` consecutive failures. Returns the new count. */
export async function recordTotpFailure(db: Db, accountId: string, max: number, now: Date): Promise<number> {
  const row = await db
    .updateTable('account_totp')
    .set({
      failed_attempts: sql<number>`failed_attempts + 1`,
      locked_at: sql<Date | null>`case when failed_attempts + 1 >= ${max} then coalesce(locked_at, ${now}::timestamptz) else locked_at end`,
    })
    .where('account_id', '=', accountId)
    .returning('failed_attempts')
    .executeTakeFirst();
  return row?.failed_attempts ?? 0;
}

export async function deleteTotp(db: Db, accountId: string): Promise<void> {
  await db.deleteFrom('account_totp').where('account_id', '=', accountId).execute();
}
