import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type { Context } from 'koa';
import { z } from 'zod';
import { NotFoundError } from '../errors.ts';
import { formPages, formText } from '../http/form-pages.ts';
import type { CsrfTokens } from '../http/middleware/csrf.ts';
import { noStore } from '../http/middleware/no-store.ts';
import type { Render } from '../http/render.ts';
import type { AccountRow } from '../storage/postgres/database.ts';
import { listUpstreamIdentities } from '../storage/postgres/upstream-identities.queries.ts';
import { startUpstreamFlow } from '../upstream/flow.ts';
import { UpstreamUnavailableError } from '../upstream/providers.ts';
import { isCurrentPassword } from './current-password.ts';
import type { AccountSettingsDeps, SettingsProblem } from './deps.ts';
import { securityPageModel, upstreamPasswordField, upstreamRowField } from './security-page.ts';
import { signedInHandlers } from './signed-in.ts';

const linkForm = z.object({ password: formText(1024), csrf: formText(200) });
const unlinkForm = z.object({ csrf: formText(200) });

/** The same-origin check in app.ts must cover these (WEB-01): a Link and an Unlink per configured provider. */
export const upstreamSettingsPostPaths = (upstreams: readonly { id: string }[]): string[] =>
  upstreams.flatMap(({ id }) => [`/account/upstream/${id}/link`, `/account/upstream/${id}/unlink`]);

/**
 * Thin handlers for the "Sign in with another service" section of /account/security (issue 12). Link
 * starts the upstream flow for the signed-in account (its callback, src/upstream/router.ts, links and
 * comes back to the page with `?upstream=&result=`); Unlink removes an identity unless it is the last
 * way in. Like the other settings forms: oidc-provider's session says who is signed in, every form
 * carries the browser-bound CSRF token, app.ts checks that the POST is same-origin, and a problem
 * re-renders the security page with it on the provider's row.
 */
export function upstreamSettingsRouter(deps: AccountSettingsDeps, render: Render, csrf: CsrfTokens): Router {
  const router = new Router({ prefix: '/account/upstream' });
  const { https, page, checkCsrf } = formPages(render, csrf, deps.config);
  router.use(noStore);
  router.use(bodyParser({ enableTypes: ['form'], formLimit: '16kb' }));
  router.param('id', (id, ctx, next) => {
    if (!deps.upstreams.get(id)) throw new NotFoundError('There is no such sign-in provider.');
    return next();
  });

  const { post: signedInPost } = signedInHandlers(deps, { page, checkCsrf });
  const security = async (ctx: Context, account: AccountRow, problems: SettingsProblem[], status: number) =>
    page(ctx, 'account-settings/security', await securityPageModel(deps, ctx, account, problems), status);
  const providerOf = (ctx: Context) => deps.upstreams.get(String(ctx.params.id))!;
  const rowProblem = (id: string, name: string, messageKey: string): SettingsProblem[] => [{ field: upstreamRowField(id), messageKey, params: { name } }];

  router.post('/:id/link', signedInPost(linkForm, async (ctx, form, account) => {
    const { id, name } = providerOf(ctx);
    // One identity per provider: the callback could only refuse a second one, after a trip to the provider.
    if ((await listUpstreamIdentities(deps.db, account.id)).some((row) => row.provider === id)) {
      return security(ctx, account, rowProblem(id, name, 'settings.upstream.problem.alreadyLinked'), 409);
    }
    // Linking adds a way in, so it asks for the current password like every change on this page
    // (MFA-07); an account without one (made by an upstream sign-in) has only its session to show.
    if (account.password_hash !== null && !(await isCurrentPassword(deps.hasher, account, form.password))) {
      return security(ctx, account, [{ field: upstreamPasswordField(id), messageKey: 'settings.problem.currentPassword' }], 400);
    }
    try {
      const url = await startUpstreamFlow({ upstreams: deps.upstreams, https, clock: () => deps.now().getTime() }, ctx, id, { purpose: 'link', accountId: account.id });
      ctx.status = 303;
      ctx.redirect(url.href);
    } catch (error) {
      if (!(error instanceof UpstreamUnavailableError)) throw error;
      await security(ctx, account, rowProblem(id, name, 'settings.upstream.problem.unavailable'), 503);
    }
  }));

  // No password asked: unlinking takes a way in away, and never the last one (deleteUpstreamIdentityUnlessLast).
  router.post('/:id/unlink', signedInPost(unlinkForm, async (ctx, _form, account) => {
    const { id, name } = providerOf(ctx);
    const outcome = await deps.upstreamLinks.unlink(ctx, account.id, id);
    if (outcome === 'last_method') return security(ctx, account, rowProblem(id, name, 'settings.upstream.problem.lastMethod'), 400);
    // Post/redirect/get: a reload does not post again. Nothing linked (a second click): just the page.
    ctx.status = 303;
    ctx.redirect(outcome === 'unlinked' ? `/account/security?${new URLSearchParams({ upstream: id, result: 'unlinked' })}` : '/account/security');
  }));

  return router;
}
