import { toAccount, type Account } from '../accounts/account.ts';
import { createAccount, InvalidAccountError } from '../accounts/create-account.ts';
import { NotFoundError } from '../errors.ts';
import type { PasswordHasher } from '../security/passwords.ts';
import type { Db } from '../storage/postgres/db.ts';
import { disableAccountByEmail, findAccountByEmail, listAccounts } from '../storage/postgres/accounts.queries.ts';

/**
 * Interim floor (ASVS 6.2.1). The password policy (PW-01: 15 for single-factor, 8 only with MFA, plus the
 * blocklist) replaces this check; until then an operator-set password is held to at least this much.
 */
export const MIN_PASSWORD_LENGTH = 8;

export interface UserInput {
  email: string;
  name?: string | undefined;
  /** Absent: the account has no password (it cannot sign in with one until it sets one). */
  password?: string | undefined;
  emailVerified?: boolean | undefined;
}

/**
 * Creates an account for an operator (CLI) or the dev seed.
 * @throws InvalidAccountError for a malformed email or a too-short password; AccountExistsError when
 *   the email is taken (compared case-insensitively).
 */
export async function addUser(db: Db, hasher: PasswordHasher, input: UserInput): Promise<Account> {
  // Code points, not UTF-16 units, so an emoji counts as one character (NIST 800-63B §3.1.1.2).
  if (input.password !== undefined && [...input.password].length < MIN_PASSWORD_LENGTH) {
    throw new InvalidAccountError(`a password needs at least ${MIN_PASSWORD_LENGTH} characters`);
  }
  return createAccount(db, hasher, input);
}

export async function listUsers(db: Db): Promise<Account[]> {
  return (await listAccounts(db)).map(toAccount);
}

/**
 * Disables the account with this email (case-insensitive); a disabled account cannot sign in. Disabling
 * twice keeps the first disabled_at.
 * @throws NotFoundError when no account has this email.
 */
export async function disableUser(db: Db, email: string, now: Date = new Date()): Promise<Account> {
  // Looked up first rather than trusting the update's row count, which the embedded driver reports as 0.
  const row = await findAccountByEmail(db, email.trim());
  if (!row) throw new NotFoundError(`no account with email "${email.trim()}"`);
  if (row.disabled_at !== null) return toAccount(row);
  await disableAccountByEmail(db, row.email, now);
  return toAccount({ ...row, disabled_at: now, updated_at: now });
}
