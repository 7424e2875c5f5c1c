import type { Account as OidcAccount, FindAccount as OidcFindAccount } from 'oidc-provider';
import type { Db } from '../storage/postgres/db.ts';
import { findAccountById } from '../storage/postgres/accounts.queries.ts';
import { toAccount } from '../accounts/account.ts';

export type FindAccount = OidcFindAccount;

/**
 * oidc-provider's view of an account, read fresh for every token, userinfo and ID token, so claims are
 * always current and a disabled (or deleted) account stops working at once: returning undefined makes
 * oidc-provider refuse the token.
 */
export function createFindAccount(db: Db): FindAccount {
  return async (_ctx, sub): Promise<OidcAccount | undefined> => {
    const row = await findAccountById(db, sub);
    if (!row || row.disabled_at !== null) return undefined;
    const account = toAccount(row);
    return {
      accountId: account.id,
      async claims() {
        return {
          sub: account.id,
          email: account.email,
          email_verified: account.emailVerified,
          ...(account.name ? { name: account.name } : {}),
        };
      },
    };
  };
}
