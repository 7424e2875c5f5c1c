import type { PasswordHasher } from '../security/passwords.ts';
import type { Db } from '../storage/postgres/db.ts';
import { findAccountByEmail, insertAccount } from '../storage/postgres/accounts.queries.ts';
import { AppError } from '../errors.ts';
import { isPlausibleEmail, normalizeEmail, toAccount, type Account } from './account.ts';

export class AccountExistsError extends AppError {
  constructor() {
    super(409, 'account_exists', 'An account with this email already exists.');
  }
}

export class InvalidAccountError extends AppError {
  constructor(message: string) {
    super(400, 'invalid_account', message);
  }
}

export interface NewAccount {
  email: string;
  name?: string | undefined;
  password?: string | undefined;
  emailVerified?: boolean | undefined;
}

/**
 * Creates an account (admin CLI and the dev seed; self-registration comes with the accounts issue).
 * @throws InvalidAccountError for a malformed email; AccountExistsError when the email is taken
 *   (compared case-insensitively).
 */
export async function createAccount(db: Db, hasher: PasswordHasher, input: NewAccount): Promise<Account> {
  const email = normalizeEmail(input.email);
  if (!isPlausibleEmail(email)) throw new InvalidAccountError(`"${input.email}" is not an email address.`);
  if (await findAccountByEmail(db, email)) throw new AccountExistsError();
  const row = await insertAccount(db, {
    email,
    name: input.name ?? null,
    email_verified: input.emailVerified ?? false,
    password_hash: input.password === undefined ? null : await hasher.hash(input.password),
    disabled_at: null,
  });
  return toAccount(row);
}
