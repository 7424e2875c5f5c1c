import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type { Context } from 'koa';
import { z } from 'zod';
import { formPages, formText, parseForm } from '../http/form-pages.ts';
import type { CsrfTokens } from '../http/middleware/csrf.ts';
import { localeOf } from '../http/middleware/locale.ts';
import { noStore } from '../http/middleware/no-store.ts';
import { cspNonce } from '../http/middleware/security-headers.ts';
import type { Render } from '../http/render.ts';
import { translator } from '../i18n/translate.ts';
import type { AccountRow } from '../storage/postgres/database.ts';
import type { AccountSettingsDeps, SettingsProblem } from './deps.ts';
import { completePasskeyRegistration, removePasskeyOf, renamePasskeyOf, startPasskeyRegistration } from './passkeys.ts';
import { recoveryCodesFile } from './two-step.ts';
import { securityPageModel } from './security-page.ts';
import { signedInAccount, signedInHandlers } from './signed-in.ts';

const text = formText;
const passkeyId = z.uuid();
const optionsForm = z.object({ passkeyPassword: text(1024), csrf: text(200) });
const registerForm = z.object({ passkeyName: text(200), response: text(32_768), csrf: text(200) });
const renameForm = z.object({ renamePasskey: passkeyId, newPasskeyName: text(200), csrf: text(200) });
const removeForm = z.object({ removePasskey: passkeyId, removePasskeyPassword: text(1024), csrf: text(200) });

/** The same-origin check in app.ts must cover these (WEB-01). */
export const PASSKEY_SETTINGS_POST_PATHS = ['/account/passkeys/options', '/account/passkeys/register', '/account/passkeys/rename', '/account/passkeys/remove'] as const;

/**
 * Thin handlers for the passkeys section of /account/security: add (current password, then the
 * browser's ceremony), rename, remove (current password). Like the other settings forms: the signed-in
 * account is oidc-provider's session, every form carries the browser-bound CSRF token, and app.ts
 * checks that the POST is same-origin. A problem re-renders the security page with it on its field.
 */
export function passkeySettingsRouter(deps: AccountSettingsDeps, render: Render, csrf: CsrfTokens): Router {
  const router = new Router({ prefix: '/account/passkeys' });
  const { page, checkCsrf } = formPages(render, csrf, deps.config);
  router.use(noStore);
  // A WebAuthn registration response is a few kilobytes of base64url.
  router.use(bodyParser({ enableTypes: ['form'], formLimit: '64kb' }));

  const { post: signedInPost } = signedInHandlers(deps, { page, checkCsrf });
  const security = async (ctx: Context, account: AccountRow, problems: SettingsProblem[], status: number) =>
    page(ctx, 'account-settings/security', await securityPageModel(deps, ctx, account, problems), status);

  /** JSON for the page's script: the creation options, or why not in the page's language. */
  router.post('/options', async (ctx) => {
    const form = parseForm(optionsForm, ctx.request.body);
    checkCsrf(ctx, form.csrf);
    const account = await signedInAccount(deps.provider(), deps.db, ctx);
    if (!account) {
      ctx.status = 401;
      ctx.body = { error: 'signed_out', message: translator(localeOf(ctx))('settings.signedOut.title') };
      return;
    }
    const result = await startPasskeyRegistration(deps, account, form.passkeyPassword);
    if (result.ok) {
      ctx.body = result.options;
      return;
    }
    ctx.status = 400;
    ctx.body = { error: 'current_password', message: translator(localeOf(ctx))('settings.problem.currentPassword') };
  });

  router.post('/register', signedInPost(registerForm, async (ctx, form, account) => {
    const result = await completePasskeyRegistration(deps, account, { response: form.response, name: form.passkeyName }, localeOf(ctx));
    if (!result.ok) return security(ctx, account, result.problems, 400);
    await deps.audit.record({ type: 'passkey_added', accountId: account.id }, ctx);
    const { recoveryCodes } = result;
    page(ctx, 'account-settings/passkey-added', {
      title: 'settings.passkeyAdded.title',
      recoveryCodes,
      recoveryCodesFile: recoveryCodes ? recoveryCodesFile(deps, recoveryCodes, localeOf(ctx)) : undefined,
      nonce: cspNonce(ctx),
    });
  }));

  router.post('/rename', signedInPost(renameForm, async (ctx, form, account) => {
    const result = await renamePasskeyOf(deps, account, form.renamePasskey, form.newPasskeyName);
    if (!result.ok) return security(ctx, account, result.problems, 400);
    ctx.status = 303;
    ctx.redirect('/account/security#passkeys-heading');
  }));

  router.post('/remove', signedInPost(removeForm, async (ctx, form, account) => {
    const result = await removePasskeyOf(deps, account, { passkeyId: form.removePasskey, password: form.removePasskeyPassword }, localeOf(ctx));
    if (!result.ok) return security(ctx, account, result.problems, 400);
    await deps.audit.record({ type: 'passkey_removed', accountId: account.id, details: { last_factor: result.lastFactor } }, ctx);
    page(ctx, 'account-settings/passkey-removed', { title: 'settings.passkeyRemoved.title', lastFactor: result.lastFactor });
  }));

  return router;
}
