import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type { Context } from 'koa';
import { z } from 'zod';
import type { AuditDetails, AuditEventType } from '../audit/audit-log.ts';
import { clearStashedToken, landFromMailLink, stashedToken } from '../http/browser-binding.ts';
import { formPages, formText, parseForm, problemsByField } from '../http/form-pages.ts';
import type { CsrfTokens } from '../http/middleware/csrf.ts';
import { localeOf } from '../http/middleware/locale.ts';
import { noStore } from '../http/middleware/no-store.ts';
import { cspNonce } from '../http/middleware/security-headers.ts';
import type { Render } from '../http/render.ts';
import type { AccountRow } from '../storage/postgres/database.ts';
import { CONFIRM_EMAIL_PATH, confirmEmailChange, pendingEmailChange, requestEmailChange } from './change-email.ts';
import { changePassword } from './change-password.ts';
import { EMAIL_CHANGE_TTL_MS, type AccountSettingsDeps, type SettingsProblem } from './deps.ts';
import { signedInHandlers } from './signed-in.ts';
import { securityPageModel } from './security-page.ts';
import { generateRecoveryCodes } from '../accounts/mfa/recovery-codes.ts';
import { isCurrentPassword } from './current-password.ts';
import { confirmAuthenticator, isTwoStepOn, recoveryCodesFile, removeAuthenticator, startAuthenticatorSetup, type AuthenticatorSetup } from './two-step.ts';

const text = formText;
const passwordForm = z.object({ currentPassword: text(1024), newPassword: text(1024), csrf: text(200) });
const emailForm = z.object({ newEmail: text(320), emailPassword: text(1024), csrf: text(200) });
const csrfOnly = z.object({ csrf: text(200) });
const totpStartForm = z.object({ totpPassword: text(1024), csrf: text(200) });
const totpConfirmForm = z.object({ code: text(20), csrf: text(200) });
const recoveryForm = z.object({ recoveryPassword: text(1024), csrf: text(200) });
const totpRemoveForm = z.object({ totpPassword: text(1024), totpCode: text(20), csrf: text(200) });

const parse = parseForm;

/** The same-origin check in app.ts must cover these (WEB-01). */
export const ACCOUNT_SETTINGS_POST_PATHS = [
  '/account/password',
  '/account/email',
  CONFIRM_EMAIL_PATH,
  '/account/totp/start',
  '/account/totp/confirm',
  '/account/totp/remove',
  '/account/recovery-codes',
] as const;

/**
 * Thin handlers for the signed-in account area: /account (see the account, change the password, change
 * the email address) and /account/security (turn two-step verification, an authenticator app, on or off;
 * make new recovery codes). Who is signed in is oidc-provider's own session; without one, every page says
 * to sign in (no redirect: there is no first-party account client to send the user through yet). Every
 * form carries a CSRF token bound to this browser; the same-origin check runs in app.ts before these.
 */
export function accountSettingsRouter(deps: AccountSettingsDeps, render: Render, csrf: CsrfTokens): Router {
  const router = new Router();
  const { https, page, checkCsrf } = formPages(render, csrf, deps.config);
  router.use(noStore);
  router.use(bodyParser({ enableTypes: ['form'], formLimit: '16kb' }));

  /** Each change, once it has succeeded: the owner, the change, and where the request came from (LOG-01). */
  const audited = (ctx: Context, account: AccountRow, type: AuditEventType, details?: AuditDetails) =>
    deps.audit.record({ type, accountId: account.id, details }, ctx);
  const { page: signedInPage, post: signedInPost } = signedInHandlers(deps, { page, checkCsrf });
  const overview = (ctx: Context, account: AccountRow, extra: { problems?: SettingsProblem[]; newEmail?: string } = {}, status = 200) =>
    page(
      ctx,
      'account-settings/index',
      {
        title: 'settings.title',
        email: account.email,
        name: account.name ?? '',
        emailVerified: account.email_verified,
        newEmail: extra.newEmail ?? '',
        problems: problemsByField(extra.problems ?? []),
      },
      status,
    );
  /**
   * The security page (/account/security): two-step verification, recovery codes and passkeys (whose
   * forms are passkey-routes.ts'). Its forms' error re-renders come back here with the problem on the field.
   */
  const security = async (ctx: Context, account: AccountRow, problems: SettingsProblem[] = [], status = 200) =>
    page(ctx, 'account-settings/security', await securityPageModel(deps, ctx, account, problems), status);
  /** A page for whoever is signed in; a signed-out visitor is asked to sign in. */
  router.get('/account', signedInPage((ctx, account) => overview(ctx, account)));
  router.get('/account/security', signedInPage((ctx, account) => security(ctx, account)));

  router.post('/account/password', signedInPost(passwordForm, async (ctx, form, account) => {
    const result = await changePassword(deps, account, form, localeOf(ctx));
    if (!result.ok) return overview(ctx, account, { problems: result.problems }, 400);
    await audited(ctx, account, 'password_changed');
    page(ctx, 'account-settings/password-changed', { title: 'settings.passwordChanged.title' });
  }));

  router.post('/account/email', signedInPost(emailForm, async (ctx, form, account) => {
    const result = await requestEmailChange(deps, account, { newEmail: form.newEmail, password: form.emailPassword }, localeOf(ctx));
    if (!result.ok) return overview(ctx, account, { problems: result.problems, newEmail: form.newEmail }, 400);
    await audited(ctx, account, 'email_change_requested');
    page(ctx, 'account-settings/check-email', { title: 'settings.checkEmail.title', newEmail: form.newEmail.trim() });
  }));

  const setupPage = (ctx: Context, setup: AuthenticatorSetup, problems: SettingsProblem[] = [], status = 200) =>
    page(ctx, 'account-settings/totp-setup', { title: 'settings.totpSetup.title', ...setup, problems: problemsByField(problems) }, status);
  /** Recovery codes, shown this once: as a list, a download link, and (with JavaScript) a copy button. */
  const codesPage = (ctx: Context, recoveryCodes: string[], regenerated = false) =>
    page(ctx, 'account-settings/totp-on', {
      title: 'settings.totpOn.title',
      recoveryCodes,
      recoveryCodesFile: recoveryCodesFile(deps, recoveryCodes, localeOf(ctx)),
      regenerated,
      nonce: cspNonce(ctx),
    });

  router.post('/account/totp/start', signedInPost(totpStartForm, async (ctx, form, account) => {
    const result = await startAuthenticatorSetup(deps, account, form.totpPassword);
    if (result.ok) setupPage(ctx, result.setup);
    else await security(ctx, account, result.problems, 400);
  }));

  router.post('/account/totp/confirm', signedInPost(totpConfirmForm, async (ctx, form, account) => {
    const result = await confirmAuthenticator(deps, account, form.code, localeOf(ctx));
    if (result.ok) {
      await audited(ctx, account, 'mfa_enabled', { factor: 'totp' });
      codesPage(ctx, result.recoveryCodes);
    } else if (result.setup) setupPage(ctx, result.setup, result.problems, 400);
    else await security(ctx, account, [], 409); // nothing pending: already on, or never started
  }));

  router.post('/account/totp/remove', signedInPost(totpRemoveForm, async (ctx, form, account) => {
    const result = await removeAuthenticator(deps, account, { password: form.totpPassword, code: form.totpCode }, localeOf(ctx));
    if (!result.ok) return security(ctx, account, result.problems, 400);
    await audited(ctx, account, 'mfa_disabled', { factor: 'totp' });
    page(ctx, 'account-settings/totp-off', { title: 'settings.totpOff.title' });
  }));

  // A new set of recovery codes (the old ones stop working), behind the current password (MFA-05, MFA-07).
  router.post('/account/recovery-codes', signedInPost(recoveryForm, async (ctx, form, account) => {
    const passwordOk = await isCurrentPassword(deps.hasher, account, form.recoveryPassword);
    if (!passwordOk || !(await isTwoStepOn(deps, account.id))) {
      return security(ctx, account, [{ field: 'recoveryPassword', messageKey: 'settings.problem.currentPassword' }], 400);
    }
    const codes = await generateRecoveryCodes(deps.recoveryCodes, account.id);
    await audited(ctx, account, 'recovery_codes_regenerated');
    codesPage(ctx, codes, true);
  }));

  // The link from the mail; whoever follows it need not be signed in here: holding it proves the address.
  router.get(CONFIRM_EMAIL_PATH, async (ctx) => {
    if (landFromMailLink(ctx, https, CONFIRM_EMAIL_PATH, EMAIL_CHANGE_TTL_MS)) return;
    const stashed = stashedToken(ctx, https, CONFIRM_EMAIL_PATH);
    const newEmail = stashed ? await pendingEmailChange(deps, stashed) : undefined;
    if (newEmail) page(ctx, 'account-settings/confirm-email', { title: 'settings.confirm.title', newEmail });
    else page(ctx, 'account-settings/link-expired', { title: 'settings.expired.title' }, 400);
  });
  router.post(CONFIRM_EMAIL_PATH, async (ctx) => {
    checkCsrf(ctx, parse(csrfOnly, ctx.request.body).csrf);
    const stashed = stashedToken(ctx, https, CONFIRM_EMAIL_PATH);
    clearStashedToken(ctx, https, CONFIRM_EMAIL_PATH);
    const changed = stashed ? await confirmEmailChange(deps, stashed, localeOf(ctx)) : undefined;
    if (!changed) return page(ctx, 'account-settings/link-expired', { title: 'settings.expired.title' }, 400);
    await deps.audit.record({ type: 'email_changed', accountId: changed.accountId }, ctx);
    page(ctx, 'account-settings/email-changed', { title: 'settings.emailChanged.title', newEmail: changed.newEmail });
  });
  return router;
}
