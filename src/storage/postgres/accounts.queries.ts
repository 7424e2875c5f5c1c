import { sql } from 'kysely';
import type { Db } from './db.ts';
import type { AccountRow, NewAccountRow } from './database.ts';

/** Case-insensitive lookup, matching the unique index on lower(email). */
export function findAccountByEmail(db: Db, email: string): Promise<AccountRow | undefined> {
  return db
    .selectFrom('accounts')
    .selectAll()
    .where(sql<string>`lower(email)`, '=', email.toLowerCase())
    .executeTakeFirst();
}

export function findAccountById(db: Db, id: string): Promise<AccountRow | undefined> {
  // ids are uuids; anything else cannot match and would make Postgres raise a cast error.
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) return Promise.resolve(undefined);
  return db.selectFrom('accounts').selectAll().where('id', '=', id).executeTakeFirst();
}

export function insertAccount(db: Db, account: NewAccountRow): Promise<AccountRow> {
  return db.insertInto('accounts').values(account).returningAll().executeTakeFirstOrThrow();
}

export function listAccounts(db: Db, limit = 1000): Promise<AccountRow[]> {
  return db.selectFrom('accounts').selectAll().orderBy('created_at').orderBy('email').limit(limit).execute();
}

export function updatePasswordHash(db: Db, id: string, passwordHash: string): Promise<unknown> {
  return db
    .updateTable('accounts')
    .set({ password_hash: passwordHash, updated_at: new Date() })
    .where('id', '=', id)
    .execute();
}

/** Returns the number of accounts disabled (0 when the email is unknown). */
export async function disableAccountByEmail(db: Db, email: string, at: Date): Promise<number> {
  // RETURNING rather than numUpdatedRows: kysely-pglite does not report affected rows.
  const disabled = await db
    .updateTable('accounts')
    .set({ disabled_at: at, updated_at: at })
    .where(sql<string>`lower(email)`, '=', email.toLowerCase())
    .returning('id')
    .execute();
  return disabled.length;
}

/** Marks the address verified only if it is still the account's address (it may have changed since the mail). */
export async function markEmailVerified(db: Db, id: string, email: string, at: Date): Promise<boolean> {
  const rows = await db
    .updateTable('accounts')
    .set({ email_verified: true, updated_at: at })
    .where('id', '=', id)
    .where(sql<string>`lower(email)`, '=', email.toLowerCase())
    .returning('id')
    .execute();
  return rows.length > 0;
}

/** Postgres' unique_violation: a concurrent insert won the race for the same email. */
export function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === '23505';
}

/**
 * Moves the account to a new address it has just proved it receives (change of email): the address is
 * verified by that proof. Returns the address it had before, or undefined when there is no such account.
 * @throws the driver's unique_violation (see isUniqueViolation) when another account took the address.
 */
export async function changeAccountEmail(db: Db, id: string, email: string, at: Date): Promise<string | undefined> {
  const before = await db.selectFrom('accounts').select('email').where('id', '=', id).forUpdate().executeTakeFirst();
  if (!before) return undefined;
  await db.updateTable('accounts').set({ email, email_verified: true, updated_at: at }).where('id', '=', id).execute();
  return before.email;
}
