import { toAccount, type Account } from '../accounts/account.ts';
import { NotFoundError } from '../errors.ts';
import type { AccountRevoker } from '../storage/oidc-adapter.ts';
import { findAccountByEmail } from '../storage/postgres/accounts.queries.ts';
import type { Db } from '../storage/postgres/db.ts';
import { unlockSignIn } from '../storage/postgres/sign-in-lock.queries.ts';

async function accountByEmail(db: Db, email: string): Promise<Account> {
  const row = await findAccountByEmail(db, email.trim());
  if (!row) throw new NotFoundError(`no account with email "${email.trim()}"`);
  return toAccount(row);
}

/**
 * Lifts a sign-in lock (100 consecutive wrong passwords, ABU-01) and clears the failure count and delay,
 * as a password reset does. Safe to run on an account that is not locked.
 * @returns the account and whether it was locked.
 * @throws NotFoundError when no account has this email (compared case-insensitively).
 */
export async function unlockUser(db: Db, email: string, now: Date = new Date()): Promise<{ account: Account; wasLocked: boolean }> {
  const account = await accountByEmail(db, email);
  const wasLocked = (await unlockSignIn(db, account.id, now)) === true;
  return { account, wasLocked };
}

/**
 * Ends everything oidc-provider holds for the account: sessions, grants, codes, access and refresh tokens.
 * The account itself can still sign in.
 * @throws NotFoundError when no account has this email.
 */
export async function revokeUserSessions(db: Db, revoker: AccountRevoker, email: string): Promise<Account> {
  const account = await accountByEmail(db, email);
  await revoker.revokeAccount(account.id);
  return account;
}
