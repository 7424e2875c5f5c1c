import { isPlausibleEmail, normalizeEmail } from '../accounts/account.ts';
import { findAccountByEmail, findAccountById, insertAccount, isUniqueViolation } from '../storage/postgres/accounts.queries.ts';
import type { AccountRow } from '../storage/postgres/database.ts';
import type { Db } from '../storage/postgres/db.ts';
import { findUpstreamIdentity, insertUpstreamIdentity, touchUpstreamIdentity } from '../storage/postgres/upstream-identities.queries.ts';
import type { UpstreamClaims } from './flow.ts';

/** What an upstream sign-in leads to (issue 12). */
export type UpstreamResolution =
  /** The identity is linked to this account: the upstream was the first factor. */
  | { kind: 'account'; account: AccountRow }
  /** No identity yet, no account had the address (which the upstream verified): this one was made for it, the identity linked. */
  | { kind: 'created'; account: AccountRow }
  /**
   * No identity yet, but an account has the upstream's address: its owner must prove the account is
   * theirs (its password and second factor) before anything is linked or signed in. Whether the upstream
   * calls the address verified does not matter: anyone may hold an upstream account with someone's address.
   */
  | { kind: 'prove-ownership'; account: AccountRow }
  | { kind: 'refused'; reason: 'no_email' | 'unverified_email' | 'no_account' | 'refused' };

export interface ResolveDeps {
  db: Db;
  /** Self-registration is open, or this provider may create accounts (UPSTREAM_<ID>_CREATE_ACCOUNTS). */
  mayCreateAccounts: boolean;
  now(): Date;
}

/**
 * Finds the account of an upstream identity by (provider, sub) only, never by email; makes one when
 * allowed and no account has the address (the account and its identity in one transaction, so no
 * account is ever left without its way to sign in).
 */
export async function resolveUpstreamSignIn(deps: ResolveDeps, provider: string, claims: UpstreamClaims): Promise<UpstreamResolution> {
  const identity = await findUpstreamIdentity(deps.db, provider, claims.subject);
  if (identity) {
    const account = await findAccountById(deps.db, identity.account_id);
    if (!account || account.disabled_at !== null) return { kind: 'refused', reason: 'refused' };
    await touchUpstreamIdentity(deps.db, provider, claims.subject, deps.now());
    return { kind: 'account', account };
  }
  const email = claims.email === undefined ? undefined : normalizeEmail(claims.email);
  if (!email || !isPlausibleEmail(email)) return { kind: 'refused', reason: 'no_email' };
  const existing = await findAccountByEmail(deps.db, email);
  if (existing) return { kind: 'prove-ownership', account: existing };
  if (!deps.mayCreateAccounts) return { kind: 'refused', reason: 'no_account' };
  // An address the upstream does not vouch for makes no account: whoever holds it there could otherwise
  // claim someone's address here before its owner comes (account pre-hijacking). Registering with a
  // password proves the address by mail; the upstream can then be linked from the account page.
  if (!claims.emailVerified) return { kind: 'refused', reason: 'unverified_email' };
  try {
    const account = await deps.db.transaction().execute(async (trx) => {
      const row = await insertAccount(trx, { email, name: claims.name?.slice(0, 200) ?? null, email_verified: true, password_hash: null, disabled_at: null });
      if (!(await insertUpstreamIdentity(trx, { provider, subject: claims.subject, accountId: row.id, email, addressUnproven: false, now: deps.now() }))) {
        throw new IdentityTakenError();
      }
      return row;
    });
    return { kind: 'created', account };
  } catch (error) {
    // Two first sign-ins at once: the loser finds what the winner made, by the same rules.
    if (isUniqueViolation(error) || error instanceof IdentityTakenError) return resolveUpstreamSignIn({ ...deps, mayCreateAccounts: false }, provider, claims);
    throw error;
  }
}

class IdentityTakenError extends Error {}
