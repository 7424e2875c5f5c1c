import type { Account as OidcAccount, FindAccount as OidcFindAccount } from 'oidc-provider';
import type { Db } from '../storage/postgres/db.ts';
import { findAccountById } from '../storage/postgres/accounts.queries.ts';
import { accessForClient } from '../storage/postgres/roles.queries.ts';
import { toAccount } from '../accounts/account.ts';

export type FindAccount = OidcFindAccount;

/** The roles and permissions an account holds as one client may see them (global roles and the client's own). */
export interface ClientAccess {
  roles: string[];
  permissions: string[];
}

/**
 * Our accounts as oidc-provider holds them (ctx.oidc.account at the token endpoint): the access reader
 * lets resource-servers.ts limit an API's scopes to the user's permissions when the token is issued.
 */
export interface GatehouseAccount extends OidcAccount {
  accessFor(clientId: string): Promise<ClientAccess>;
}

/**
 * The `roles` scope releases the account's roles and their permissions as the asking client may see them:
 * global roles and the client's own, never another client's. Only with the scope granted: a `claims`
 * parameter alone asking for them gets nothing.
 */
function wantsRoles(scope: string): boolean {
  return scope.split(' ').includes('roles');
}

/**
 * oidc-provider's view of an account, read fresh for every token, userinfo and ID token, so claims are
 * always current and a disabled (or deleted) account stops working at once: returning undefined makes
 * oidc-provider refuse the token. Roles are read at each claims() call too, so a revoked role is gone
 * from the next refresh's ID token and the next userinfo answer, without a new sign-in.
 */
export function createFindAccount(db: Db): FindAccount {
  return async (ctx, sub): Promise<GatehouseAccount | undefined> => {
    const row = await findAccountById(db, sub);
    if (!row || row.disabled_at !== null) return undefined;
    const account = toAccount(row);
    const clientId = ctx.oidc?.client?.clientId;
    return {
      accountId: account.id,
      accessFor: (client) => accessForClient(db, account.id, client),
      async claims(_use, scope) {
        const access = clientId !== undefined && wantsRoles(scope) ? await accessForClient(db, account.id, clientId) : undefined;
        return {
          sub: account.id,
          email: account.email,
          email_verified: account.emailVerified,
          ...(account.name ? { name: account.name } : {}),
          ...(access ?? {}),
        };
      },
    };
  };
}
