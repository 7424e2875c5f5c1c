import type { PasswordHasher } from '../security/passwords.ts';
import type { Db } from '../storage/postgres/db.ts';
import type { AccountRow } from '../storage/postgres/database.ts';
import { findAccountByEmail, updatePasswordHash } from '../storage/postgres/accounts.queries.ts';
import { toAccount, type Account } from './account.ts';

export type AuthenticationResult =
  | { ok: true; account: Account }
  /**
   * The page shows one message for every failure, so it cannot tell an unknown email from a wrong
   * password; `reason` and `accountId` are for the audit trail and the limits only, never the response.
   */
  | { ok: false; reason: AuthenticationFailure; accountId?: string };

export type AuthenticationFailure = 'unknown_account' | 'no_password' | 'wrong_password' | 'account_disabled' | 'account_locked';

/**
 * Checks an email and password. Unknown emails, password-less accounts and locked passwords (100
 * consecutive failures, ABU-01) still pay for one argon2 verify, the decoy, never against the account's
 * own hash: a locked password cannot be tried at all, and fails like a wrong one (ABU-03). Disabled
 * accounts fail like a wrong password, and a hash made with weaker parameters than configured is
 * replaced after a successful check.
 */
export async function authenticateWithPassword(
  db: Db,
  hasher: PasswordHasher,
  email: string,
  password: string,
): Promise<AuthenticationResult> {
  return checkPassword(db, hasher, await findAccountByEmail(db, email.trim()), password);
}

/**
 * authenticateWithPassword's check on an account row already read (the sign-in's limits read it while
 * counting the attempt); `row` undefined means no account has the email.
 */
export async function checkPassword(db: Db, hasher: PasswordHasher, row: AccountRow | undefined, password: string): Promise<AuthenticationResult> {
  if (!row || !row.password_hash || row.locked_at !== null) {
    await hasher.decoyVerify(password);
    if (!row) return { ok: false, reason: 'unknown_account' };
    return { ok: false, reason: row.locked_at !== null ? 'account_locked' : 'no_password', accountId: row.id };
  }
  const valid = await hasher.verify(row.password_hash, password);
  if (!valid) return { ok: false, reason: 'wrong_password', accountId: row.id };
  if (row.disabled_at !== null) return { ok: false, reason: 'account_disabled', accountId: row.id };
  if (hasher.needsRehash(row.password_hash)) {
    await updatePasswordHash(db, row.id, await hasher.hash(password));
  }
  return { ok: true, account: toAccount(row) };
}
