import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { findAccountById } from '../storage/postgres/accounts.queries.ts';
import type { AccountRow } from '../storage/postgres/database.ts';
import type { Db } from '../storage/postgres/db.ts';

/**
 * The account of oidc-provider's own session (its signed session cookie), if someone is signed in and
 * the account is still usable. Reading the session changes nothing: no cookie is set for a visitor.
 */
export async function signedInAccount(provider: Provider, db: Db, ctx: Context): Promise<AccountRow | undefined> {
  // oidc-provider 9 reads its cookies from any Koa-like context (it builds its own from ctx.req/res).
  const session = await provider.Session.get(ctx);
  const accountId = session.accountId;
  if (!accountId) return undefined;
  const account = await findAccountById(db, accountId);
  return account && !account.disabled_at ? account : undefined;
}
