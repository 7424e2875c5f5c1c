import type { PasswordHasher } from '../security/passwords.ts';
import type { AccountRow } from '../storage/postgres/database.ts';

/**
 * Whether `password` is the account's current password. An account without a password (none set yet)
 * never matches, after the same argon2 work as a real check.
 */
export async function isCurrentPassword(hasher: PasswordHasher, account: AccountRow, password: string): Promise<boolean> {
  if (account.password_hash === null) {
    await hasher.decoyVerify(password);
    return false;
  }
  return hasher.verify(account.password_hash, password);
}
