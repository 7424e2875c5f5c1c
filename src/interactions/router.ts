import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { z } from 'zod';
import { authenticateWithPassword } from '../accounts/authenticate.ts';
import { BadRequestError } from '../errors.ts';
import type { PageModel, Render } from '../http/render.ts';
import type { CsrfTokens } from '../http/middleware/csrf.ts';
import { localeOf, preferUiLocales } from '../http/middleware/locale.ts';
import { noStore } from '../http/middleware/no-store.ts';
import { parseForm } from '../http/form-pages.ts';
import { allowFormAction } from '../http/middleware/security-headers.ts';
import type { PasswordHasher } from '../security/passwords.ts';
import type { Db } from '../storage/postgres/db.ts';
import { findAccountById } from '../storage/postgres/accounts.queries.ts';
import { finishInteraction, loadInteraction, saveStage, type LoadedInteraction } from './context.ts';
import { verifyTotpForSignIn, type TotpDeps } from '../accounts/mfa/totp.ts';
import { looksLikeRecoveryCode, useRecoveryCode, type RecoveryCodeDeps } from '../accounts/mfa/recovery-codes.ts';
import type { MailQueue } from '../recovery/ports.ts';
import { ACR } from '../oidc/acr.ts';
import { MAX_MFA_FAILURES } from './state.ts';
import { enrolledFactors, hasSecondFactor } from '../accounts/mfa/factors.ts';
import { AppError } from '../errors.ts';

/** The sign-in ran out of second-factor attempts (this interaction) or the authenticator is locked. */
class TooManyCodesError extends AppError {
  constructor(locked: boolean) {
    super(400, locked ? 'mfa_locked' : 'mfa_too_many_attempts', locked
      ? 'Two-step verification is locked after too many wrong codes. Reset your password to unlock it, or contact the operator.'
      : 'Too many wrong codes. Go back to the application and sign in again.');
  }
}
import { translator } from '../i18n/translate.ts';
import { describeClaims, describeScopes } from './scopes.ts';

export interface InteractionDeps {
  db: Db;
  hasher: PasswordHasher;
  render: Render;
  csrf: CsrfTokens;
  provider(): Provider;
  totp: TotpDeps;
  recoveryCodes: RecoveryCodeDeps;
  mail: MailQueue;
  issuer: string;
  /** Shown as links on the sign-in page and enforced after a correct password. */
  accounts: { registrationOpen: boolean; allowUnverifiedSignIn: boolean };
}

/** Field names are a stable contract for password managers and scripts: `email`, `password`. */
const loginForm = z.object({
  email: z.string().max(320).default(''),
  password: z.string().max(4096).default(''),
  remember: z.literal('1').optional(),
  csrf: z.string().max(200).optional(),
});
const mfaForm = z.object({ code: z.string().max(32).default(''), csrf: z.string().max(200).optional() });
const consentForm = z.object({ decision: z.enum(['approve', 'deny']), csrf: z.string().max(200).optional() });
const abortForm = z.object({ csrf: z.string().max(200).optional() });

const parse = parseForm;

function wrongStage(): BadRequestError {
  return new BadRequestError('This step of the sign-in is not available now. Go back and start again.', 'wrong_stage');
}

/** Thin handlers for /interaction/:uid: each loads the interaction, calls one domain function, renders or redirects. */
export function interactionRouter(deps: InteractionDeps): Router {
  const router = new Router({ prefix: '/interaction/:uid' });
  router.use(noStore);
  router.use(bodyParser({ enableTypes: ['form'], formLimit: '16kb' }));

  /**
   * Loads the interaction and takes its language from the authorization request's ui_locales, so the
   * pages and any error after this point (CSRF, wrong stage) speak the language the application asked for.
   */
  async function load(ctx: Context, provider: Provider): Promise<LoadedInteraction> {
    const loaded = await loadInteraction(ctx, provider);
    preferUiLocales(ctx, loaded.interaction.params.ui_locales);
    return loaded;
  }

  /** Every page of an interaction: its CSRF token, and form-action widened to where it may end (the client). */
  function page(ctx: Context, loaded: LoadedInteraction, view: string, model: { title: PageModel['title']; [key: string]: unknown }): void {
    allowFormAction(ctx, String(loaded.interaction.params.redirect_uri ?? ''));
    ctx.body = deps.render(view, {
      ...model,
      locale: localeOf(ctx),
      uid: loaded.interaction.uid,
      client: loaded.client,
      registrationOpen: deps.accounts.registrationOpen,
      csrf: deps.csrf.issue(`interaction:${loaded.interaction.uid}`),
    });
  }

  const verifyCsrf = (loaded: LoadedInteraction, token: string | undefined) => deps.csrf.verify(`interaction:${loaded.interaction.uid}`, token);

  router.get('/', async (ctx) => {
    const loaded = await load(ctx, deps.provider());
    const { interaction, stage } = loaded;
    if (stage.name === 'consent') {
      const account = await findAccountById(deps.db, stage.accountId);
      const details = interaction.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[] };
      const t = translator(localeOf(ctx));
      page(ctx, loaded, 'interaction/consent', {
        title: 'consent.title',
        accountEmail: account?.email ?? '',
        scopes: describeScopes(details.missingOIDCScope ?? [], t),
        claims: describeClaims(details.missingOIDCClaims ?? [], t),
      });
      return;
    }
    if (stage.name === 'mfa') {
      page(ctx, loaded, 'interaction/mfa', { title: 'mfa.title' });
      return;
    }
    if (stage.name !== 'login') throw wrongStage();
    page(ctx, loaded, 'interaction/login', { title: 'login.title', email: String(interaction.params.login_hint ?? '') });
  });

  router.post('/login', async (ctx) => {
    const provider = deps.provider();
    const loaded = await load(ctx, provider);
    const form = parse(loginForm, ctx.request.body);
    verifyCsrf(loaded, form.csrf);
    if (loaded.stage.name !== 'login') throw wrongStage();
    const result = await authenticateWithPassword(deps.db, deps.hasher, form.email, form.password);
    // Unverified accounts may be kept out by config; that message only ever follows a correct password.
    const unverified = result.ok && !result.account.emailVerified && !deps.accounts.allowUnverifiedSignIn;
    if (!result.ok || unverified) {
      ctx.status = 400;
      page(ctx, loaded, 'interaction/login', {
        title: 'login.title',
        email: form.email,
        remember: form.remember === '1',
        error: unverified ? 'login.unverified' : 'login.failed', // catalogue keys, shown in the page's language
      });
      return;
    }
    const remember = form.remember === '1';
    if (hasSecondFactor(await enrolledFactors(deps.db, result.account.id))) {
      // The password alone resolves nothing: the interaction moves to the mfa stage (MFA-06).
      await saveStage(ctx, provider, { name: 'mfa', accountId: result.account.id, amr: ['pwd'], remember, failures: 0 });
      return;
    }
    // remember: false makes oidc-provider's session cookie a browser-session cookie.
    await finishInteraction(ctx, provider, {
      login: { accountId: result.account.id, amr: ['pwd'], acr: ACR.password, remember },
    });
  });

  router.post('/mfa', async (ctx) => {
    const provider = deps.provider();
    const loaded = await load(ctx, provider);
    const form = parse(mfaForm, ctx.request.body);
    verifyCsrf(loaded, form.csrf);
    const { stage, interaction } = loaded;
    if (stage.name !== 'mfa') throw wrongStage();
    // A recovery code (MFA-05) stands in for the app's code; it is counted like a wrong code when wrong.
    const recovery = looksLikeRecoveryCode(form.code);
    const outcome = recovery
      ? (await useRecoveryCode(deps.recoveryCodes, stage.accountId, form.code)) ? 'accepted' : 'rejected'
      : await verifyTotpForSignIn(deps.totp, stage.accountId, form.code);
    if (outcome === 'accepted' && recovery) await notifyRecoveryCodeUsed(ctx, stage.accountId);
    if (outcome === 'accepted') {
      await finishInteraction(ctx, provider, {
        login: { accountId: stage.accountId, amr: [...stage.amr, 'otp', 'mfa'], acr: ACR.mfa, remember: stage.remember },
      });
      return;
    }
    const failures = stage.failures + 1;
    if (outcome === 'locked' || failures >= MAX_MFA_FAILURES) {
      // Too many wrong codes: this sign-in is over; the next starts again from the password (MFA-04).
      await interaction.destroy();
      throw new TooManyCodesError(outcome === 'locked');
    }
    await provider.interactionResult(ctx.req, ctx.res, { gatehouse: { ...stage, failures } }, { mergeWithLastSubmission: false });
    ctx.status = 400;
    page(ctx, loaded, 'interaction/mfa', { title: 'mfa.title', error: 'mfa.wrongCode' });
  });

  /** Using a recovery code is news to the owner: if it was not them, their codes have leaked (MFA-05). */
  async function notifyRecoveryCodeUsed(ctx: Context, accountId: string): Promise<void> {
    const account = await findAccountById(deps.db, accountId);
    if (!account) return;
    await deps.mail.queue(account.email, 'mfa-changed', localeOf(ctx), { change: 'recovery', resetUrl: `${deps.issuer}/forgot-password` });
  }

  router.post('/consent', async (ctx) => {
    const provider = deps.provider();
    const loaded = await load(ctx, provider);
    const form = parse(consentForm, ctx.request.body);
    verifyCsrf(loaded, form.csrf);
    const { stage, interaction } = loaded;
    if (stage.name !== 'consent') throw wrongStage();
    if (form.decision === 'deny') {
      await finishInteraction(ctx, provider, { error: 'access_denied', error_description: 'The user denied access.' });
      return;
    }
    const grantId = await saveGrant(provider, interaction, stage.accountId);
    await finishInteraction(ctx, provider, { consent: { grantId } });
  });

  router.post('/abort', async (ctx) => {
    const provider = deps.provider();
    const loaded = await load(ctx, provider);
    verifyCsrf(loaded, parse(abortForm, ctx.request.body).csrf);
    await finishInteraction(ctx, provider, { error: 'access_denied', error_description: 'The user cancelled the sign-in.' });
  });

  return router;
}

/** Adds exactly what the prompt reported missing to the existing grant (or a new one) and saves it. */
async function saveGrant(
  provider: Provider,
  interaction: Awaited<ReturnType<Provider['interactionDetails']>>,
  accountId: string,
): Promise<string> {
  const clientId = String(interaction.params.client_id);
  const existing = interaction.grantId ? await provider.Grant.find(interaction.grantId) : undefined;
  const grant = existing ?? new provider.Grant({ accountId, clientId });
  const details = interaction.prompt.details as {
    missingOIDCScope?: string[];
    missingOIDCClaims?: string[];
    missingResourceScopes?: Record<string, string[]>;
  };
  if (details.missingOIDCScope) grant.addOIDCScope(details.missingOIDCScope.join(' '));
  if (details.missingOIDCClaims) grant.addOIDCClaims(details.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(details.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  return grant.save();
}
