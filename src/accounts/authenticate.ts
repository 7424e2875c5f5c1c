import type { PasswordHasher } from '../security/passwords.ts';
import type { Db } from '../storage/postgres/db.ts';
import { findAccountByEmail, updatePasswordHash } from '../storage/postgres/accounts.queries.ts';
import { toAccount, type Account } from './account.ts';

export type AuthenticationResult =
  | { ok: true; account: Account }
  /** One reason for every failure, so the page cannot tell an unknown email from a wrong password. */
  | { ok: false };

/**
 * Checks an email and password. Unknown emails and password-less accounts still pay for one argon2
 * verify (the decoy), disabled accounts fail like a wrong password, and a hash made with weaker
 * parameters than configured is replaced after a successful check.
 */
export async function authenticateWithPassword(
  db: Db,
  hasher: PasswordHasher,
  email: string,
  password: string,
): Promise<AuthenticationResult> {
  const row = await findAccountByEmail(db, email.trim());
  if (!row || !row.password_hash) {
    await hasher.decoyVerify(password);
    return { ok: false };
  }
  const valid = await hasher.verify(row.password_hash, password);
  if (!valid || row.disabled_at !== null) return { ok: false };
  if (hasher.needsRehash(row.password_hash)) {
    await updatePasswordHash(db, row.id, await hasher.hash(password));
  }
  return { ok: true, account: toAccount(row) };
}
