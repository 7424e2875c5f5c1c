import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type { Context } from 'koa';
import { z } from 'zod';
import { registerAccount } from '../accounts/register.ts';
import { NotFoundError } from '../errors.ts';
import { clearStashedToken, landFromMailLink, stashedToken } from '../http/browser-binding.ts';
import { formPages, formText, parseForm, problemsByField } from '../http/form-pages.ts';
import type { CsrfTokens } from '../http/middleware/csrf.ts';
import { localeOf } from '../http/middleware/locale.ts';
import { noStore } from '../http/middleware/no-store.ts';
import type { Render } from '../http/render.ts';
import type { LimitVerdict } from '../security/rate-limits.ts';
import type { AccountFlowDeps } from './deps.ts';
import { confirmEmail, isVerificationTokenUsable, resendVerification } from './email-verification.ts';
import { accountForResetToken, completePasswordReset, requestPasswordReset, resetNeedsSecondFactor } from './password-reset.ts';

const text = formText;
const registerForm = z.object({ email: text(320), name: text(200), password: text(1024), csrf: text(200) });
const emailForm = z.object({ email: text(320), csrf: text(200) });
const passwordForm = z.object({ password: text(1024), code: text(20), csrf: text(200) });
const csrfOnly = z.object({ csrf: text(200) });

const parse = parseForm;

const VERIFY = '/verify-email';
const RESET = '/reset-password';

/**
 * Thin handlers for the pages around an account: register, verify the email address, forgot and reset
 * the password. Every form carries a CSRF token bound to this browser; the same-origin check runs in
 * app.ts before these. Links from mails land on `?token=`, which is moved into a cookie at once (REC-04).
 */
export function accountFlowRouter(deps: AccountFlowDeps, render: Render, csrf: CsrfTokens): Router {
  const router = new Router();
  const { https, page, checkCsrf } = formPages(render, csrf, deps.config);
  router.use(noStore);
  router.use(bodyParser({ enableTypes: ['form'], formLimit: '16kb' }));
  const limits = deps.rateLimits;

  /**
   * Counted before any argon2, database or mail work; keyed on `ctx.ip`, which Koa takes from
   * X-Forwarded-For only with TRUST_PROXY on. A refusal goes to the one presenter as 429 + Retry-After.
   */
  async function enforce(ctx: Context, check: Promise<LimitVerdict>): Promise<void> {
    const verdict = await check;
    if (verdict.ok) return;
    ctx.set('Retry-After', String(verdict.error.retryAfterSeconds));
    throw verdict.error;
  }

  /** A mailed link: one counted token attempt (REC-02), then the token leaves the URL (REC-04). */
  async function landedFromMail(ctx: Context, path: string, ttlSeconds: number): Promise<boolean> {
    if (typeof ctx.query.token !== 'string') return false;
    await enforce(ctx, limits.tokenAttempt(ctx.ip));
    return landFromMailLink(ctx, https, path, ttlSeconds * 1000);
  }

  const requireOpen = () => {
    if (deps.config.registration !== 'open') throw new NotFoundError('Registration is closed on this server.');
  };

  router.get('/register', (ctx) => {
    requireOpen();
    page(ctx, 'account/register', { title: 'account.register.title', email: '', name: '', problems: {} });
  });
  router.post('/register', async (ctx) => {
    requireOpen();
    const form = parse(registerForm, ctx.request.body);
    checkCsrf(ctx, form.csrf);
    await enforce(ctx, limits.register(ctx.ip, form.email));
    const result = await registerAccount(deps, { ...form, locale: localeOf(ctx), request: ctx });
    if (!result.ok) {
      page(ctx, 'account/register', { title: 'account.register.title', email: form.email, name: form.name, problems: problemsByField(result.problems) }, 400);
      return;
    }
    page(ctx, 'account/check-email', { title: 'account.checkEmail.title', kind: 'register' });
  });

  router.get(VERIFY, async (ctx) => {
    if (await landedFromMail(ctx, VERIFY, deps.config.accounts.verificationTtl)) return;
    const stashed = stashedToken(ctx, https, VERIFY);
    if (stashed && (await isVerificationTokenUsable(deps, stashed))) page(ctx, 'account/verify-email', { title: 'account.verify.title' });
    else page(ctx, 'account/link-expired', { title: 'account.expired.title', kind: 'verify' }, 400);
  });
  router.post(VERIFY, async (ctx) => {
    checkCsrf(ctx, parse(csrfOnly, ctx.request.body).csrf);
    await enforce(ctx, limits.tokenAttempt(ctx.ip));
    const stashed = stashedToken(ctx, https, VERIFY);
    clearStashedToken(ctx, https, VERIFY);
    const verified = stashed ? await confirmEmail(deps, stashed) : undefined;
    if (!verified) return page(ctx, 'account/link-expired', { title: 'account.expired.title', kind: 'verify' }, 400);
    await deps.audit.record({ type: 'email_verified', accountId: verified }, ctx);
    page(ctx, 'account/email-verified', { title: 'account.verified.title' });
  });
  router.post(`${VERIFY}/resend`, async (ctx) => {
    const form = parse(emailForm, ctx.request.body);
    checkCsrf(ctx, form.csrf);
    await enforce(ctx, limits.mailRequest(ctx.ip, form.email));
    resendVerification(deps, form.email, localeOf(ctx));
    page(ctx, 'account/check-email', { title: 'account.checkEmail.title', kind: 'verify' });
  });

  router.get('/forgot-password', (ctx) => {
    page(ctx, 'account/forgot-password', { title: 'account.forgot.title', email: '' });
  });
  router.post('/forgot-password', async (ctx) => {
    const form = parse(emailForm, ctx.request.body);
    checkCsrf(ctx, form.csrf);
    await enforce(ctx, limits.mailRequest(ctx.ip, form.email));
    requestPasswordReset(deps, form.email, localeOf(ctx), ctx);
    page(ctx, 'account/check-email', { title: 'account.checkEmail.title', kind: 'reset' });
  });

  router.get(RESET, async (ctx) => {
    if (await landedFromMail(ctx, RESET, deps.config.accounts.resetTtl)) return;
    const stashed = stashedToken(ctx, https, RESET);
    const account = stashed ? await accountForResetToken(deps, stashed) : undefined;
    if (!account) return page(ctx, 'account/link-expired', { title: 'account.expired.title', kind: 'reset' }, 400);
    const needsCode = await resetNeedsSecondFactor(deps, account);
    page(ctx, 'account/reset-password', { title: 'account.reset.title', email: account.email, needsCode, problems: {} });
  });
  router.post(RESET, async (ctx) => {
    const form = parse(passwordForm, ctx.request.body);
    checkCsrf(ctx, form.csrf);
    await enforce(ctx, limits.tokenAttempt(ctx.ip));
    const stashed = stashedToken(ctx, https, RESET);
    const result = stashed ? await completePasswordReset(deps, stashed, { password: form.password, code: form.code }, localeOf(ctx)) : ({ ok: false, expired: true } as const);
    if (result.ok) {
      await deps.audit.record({ type: 'password_reset', accountId: result.accountId }, ctx);
      if (result.unlocked) await deps.audit.record({ type: 'account_unlocked', accountId: result.accountId, details: { via: 'password_reset' } }, ctx);
      for (const provider of result.unlinked) {
        await deps.audit.record({ type: 'upstream_unlinked', accountId: result.accountId, details: { provider, via: 'password_reset' } }, ctx);
      }
      clearStashedToken(ctx, https, RESET);
      page(ctx, 'account/password-changed', { title: 'account.changed.title' });
    } else if (result.expired) {
      clearStashedToken(ctx, https, RESET);
      page(ctx, 'account/link-expired', { title: 'account.expired.title', kind: 'reset' }, 400);
    } else {
      const account = await accountForResetToken(deps, stashed!);
      const needsCode = account ? await resetNeedsSecondFactor(deps, account) : false;
      page(ctx, 'account/reset-password', { title: 'account.reset.title', email: account?.email ?? '', needsCode, problems: problemsByField(result.problems) }, 400);
    }
  });
  return router;
}
