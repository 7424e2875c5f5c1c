import type { Context } from 'koa';
import type { z } from 'zod';
import { parseForm, type formPages } from '../http/form-pages.ts';
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

/**
 * The steps every settings page shares. The signed-out page; a GET that shows a page to the signed-in
 * account; a POST that parses its form, checks the browser-bound CSRF token before anything else, then
 * hands the form and the signed-in account to `handle`, or answers the signed-out page with 401.
 */
export function signedInHandlers(deps: { provider(): Provider; db: Db }, pages: Pick<ReturnType<typeof formPages>, 'page' | 'checkCsrf'>) {
  const signedOut = (ctx: Context, status: number) => pages.page(ctx, 'account-settings/signed-out', { title: 'settings.signedOut.title' }, status);
  return {
    signedOut,
    page: (show: (ctx: Context, account: AccountRow) => unknown) => async (ctx: Context) => {
      const account = await signedInAccount(deps.provider(), deps.db, ctx);
      if (account) await show(ctx, account);
      else signedOut(ctx, 200);
    },
    post: <T extends { csrf: string }>(schema: z.ZodType<T>, handle: (ctx: Context, form: T, account: AccountRow) => unknown) => async (ctx: Context) => {
      const form = parseForm(schema, ctx.request.body);
      pages.checkCsrf(ctx, form.csrf);
      const account = await signedInAccount(deps.provider(), deps.db, ctx);
      if (!account) return signedOut(ctx, 401);
      await handle(ctx, form, account);
    },
  };
}
