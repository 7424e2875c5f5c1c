import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type Provider from 'oidc-provider';
import { z } from 'zod';
import { checkPassword } from '../accounts/authenticate.ts';
import type { CsrfTokens } from '../http/middleware/csrf.ts';
import { localeOf } from '../http/middleware/locale.ts';
import { noStore } from '../http/middleware/no-store.ts';
import { parseForm } from '../http/form-pages.ts';
import type { Render } from '../http/render.ts';
import { translator } from '../i18n/translate.ts';
import { STEP_UP_REASONS } from '../oidc/policy.ts';
import type { PasswordHasher } from '../security/passwords.ts';
import type { SignInLimits } from '../security/sign-in-limits.ts';
import { findAccountById } from '../storage/postgres/accounts.queries.ts';
import { findApisByIdentifiers } from '../storage/postgres/apis.queries.ts';
import { finishInteraction, saveStage, type LoadedInteraction } from './context.ts';
import { clientIdOf, continueAfterFirstFactor, nextStepFor, UNMET } from './next-step.ts';
import { interactionPages, wrongStage } from './pages.ts';
import { describeApiScopes, describeClaims, describeScopes } from './scopes.ts';
import { addSecondFactorRoutes, type SecondFactorDeps } from './second-factor-routes.ts';
import { admitSignIn, settleSignIn } from './sign-in-gate.ts';
import { addUpstreamSignInRoutes } from './upstream-routes.ts';
import type { Upstreams } from '../upstream/providers.ts';
import { AMR_VALUES, type Stage } from './state.ts';

/** The second step's deps (codes, recovery codes, mail, audit, the new-browser check) plus the password step's. */
export interface InteractionDeps extends SecondFactorDeps {
  hasher: PasswordHasher;
  render: Render;
  csrf: CsrfTokens;
  /** Per IP, per (account, IP) and per account, counted before the password's argon2 (ABU-01/02). */
  signInLimits: SignInLimits;
  /** Shown as links on the sign-in page and enforced after a correct password; mfaRequired is MFA_REQUIRED. */
  accounts: { registrationOpen: boolean; allowUnverifiedSignIn: boolean; mfaRequired: boolean };
  /** Upstream providers shown as "Sign in with …" links (issue 12). */
  upstreams: Upstreams;
  /** The issuer is https: cookies are Secure. */
  https: boolean;
  now(): Date;
  clock?: () => number;
}

/** Field names are a stable contract for password managers and scripts: `email`, `password`. */
const loginForm = z.object({
  email: z.string().max(320).default(''),
  password: z.string().max(4096).default(''),
  remember: z.literal('1').optional(),
  csrf: z.string().max(200).optional(),
});
const consentForm = z.object({ decision: z.enum(['approve', 'deny']), csrf: z.string().max(200).optional() });
const abortForm = z.object({ csrf: z.string().max(200).optional() });

type Amr = Extract<Stage, { name: 'mfa' }>['amr'];

/**
 * A login prompt opened only to raise the level of a live session (an RP's acr_values or essential acr,
 * or an MFA policy): the signed-in account goes straight to its second factor, no password again. Any
 * other reason (no session, prompt=login, max_age, a sign-in too old) means a full sign-in.
 */
function stepUpOf(loaded: LoadedInteraction): { accountId: string; amr: Amr } | undefined {
  const { interaction, stage } = loaded;
  const accountId = interaction.session?.accountId;
  const reasons = interaction.prompt.reasons;
  if (stage.name !== 'login' || !accountId || reasons.length === 0 || !reasons.every((reason) => STEP_UP_REASONS.has(reason))) return undefined;
  const sessionAmr = ((interaction.session as { amr?: string[] }).amr ?? []).filter((value): value is Amr[number] => (AMR_VALUES as readonly string[]).includes(value));
  return { accountId, amr: sessionAmr.length > 0 ? sessionAmr : ['pwd'] };
}

/** Thin handlers for /interaction/:uid: each loads the interaction, calls one domain function, renders or redirects. */
export function interactionRouter(deps: InteractionDeps): Router {
  const router = new Router({ prefix: '/interaction/:uid' });
  router.use(noStore);
  router.use(bodyParser({ enableTypes: ['form'], formLimit: '16kb' }));
  const pages = interactionPages({ render: deps.render, csrf: deps.csrf, registrationOpen: deps.accounts.registrationOpen, upstreams: deps.upstreams.list() });
  const { load, page, verifyCsrf } = pages;
  const secondFactor = addSecondFactorRoutes(router, deps, pages);
  const upstream = addUpstreamSignInRoutes(router, deps, pages);
  const policy = { db: deps.db, mfaRequired: deps.accounts.mfaRequired, audit: deps.audit, devices: deps.devices, upstreamLinks: deps.upstreamLinks };

  router.get('/', async (ctx) => {
    const provider = deps.provider();
    const loaded = await load(ctx, provider);
    const { interaction, stage } = loaded;
    if (stage.name === 'consent') {
      const account = await findAccountById(deps.db, stage.accountId);
      const details = interaction.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };
      const resources = details.missingResourceScopes ?? {};
      const apis = await findApisByIdentifiers(deps.db, Object.keys(resources));
      const t = translator(localeOf(ctx));
      page(ctx, loaded, 'interaction/consent', {
        title: 'consent.title',
        accountEmail: account?.email ?? '',
        scopes: [...describeScopes(details.missingOIDCScope ?? [], t), ...describeApiScopes(resources, apis, t)],
        claims: describeClaims(details.missingOIDCClaims ?? [], t),
      });
      return;
    }
    if ((await secondFactor.showStage(ctx, loaded)) || (await upstream.showStage(ctx, loaded))) return;
    if (stage.name !== 'login') throw wrongStage();
    const stepUp = stepUpOf(loaded);
    if (stepUp) {
      // remember: true keeps the session as it was (oidc-provider never clears `transient` on a login).
      const next = await nextStepFor(policy, loaded, stepUp.accountId);
      if (next.step === 'unmet') return finishInteraction(ctx, provider, UNMET);
      if (next.step !== 'finish') return saveStage(ctx, provider, { name: next.step, ...stepUp, remember: true, failures: 0 });
    }
    const notice = stage.upstreamNotice;
    page(ctx, loaded, 'interaction/login', {
      title: 'login.title',
      email: String(interaction.params.login_hint ?? ''),
      // Why an upstream sign-in came back here, in words (the provider by its button's name).
      upstreamNotice: notice && { key: `upstream.notice.${notice.reason}`, name: deps.upstreams.get(notice.provider)?.name ?? notice.provider },
    });
  });

  router.post('/login', async (ctx) => {
    const provider = deps.provider();
    const loaded = await load(ctx, provider);
    const form = parseForm(loginForm, ctx.request.body);
    verifyCsrf(loaded, form.csrf);
    if (loaded.stage.name !== 'login') throw wrongStage();
    const attempt = await admitSignIn(deps, ctx, form.email, clientIdOf(loaded));
    const result = await checkPassword(deps.db, deps.hasher, attempt.account, form.password);
    await settleSignIn(deps, ctx, attempt, result.ok, clientIdOf(loaded));
    // Unverified accounts may be kept out by config; that message only ever follows a correct password.
    const unverified = result.ok && !result.account.emailVerified && !deps.accounts.allowUnverifiedSignIn;
    if (!result.ok || unverified) {
      const failure = result.ok ? { reason: 'email_unverified' as const, accountId: result.account.id } : result;
      await deps.audit.record({ type: 'sign_in', outcome: 'failure', reason: failure.reason, accountId: failure.accountId, clientId: clientIdOf(loaded) }, ctx);
      ctx.status = 400;
      page(ctx, loaded, 'interaction/login', {
        title: 'login.title',
        email: form.email,
        remember: form.remember === '1',
        error: unverified ? 'login.unverified' : 'login.failed', // catalogue keys, shown in the page's language
      });
      return;
    }
    // remember: false makes oidc-provider's session cookie a browser-session cookie.
    await continueAfterFirstFactor(ctx, provider, loaded, policy, { accountId: result.account.id, remember: form.remember === '1', factor: 'pwd' });
  });

  router.post('/consent', async (ctx) => {
    const provider = deps.provider();
    const loaded = await load(ctx, provider);
    const form = parseForm(consentForm, ctx.request.body);
    verifyCsrf(loaded, form.csrf);
    const { stage, interaction } = loaded;
    if (stage.name !== 'consent') throw wrongStage();
    if (form.decision === 'deny') {
      await finishInteraction(ctx, provider, { error: 'access_denied', error_description: 'The user denied access.' });
      return;
    }
    const grantId = await saveGrant(provider, interaction, stage.accountId);
    const details = interaction.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[] };
    await deps.audit.record({ type: 'consent_granted', accountId: stage.accountId, clientId: clientIdOf(loaded), details: { scopes: details.missingOIDCScope ?? [], claims: details.missingOIDCClaims ?? [] } }, ctx);
    await finishInteraction(ctx, provider, { consent: { grantId } });
  });

  router.post('/abort', async (ctx) => {
    const provider = deps.provider();
    const loaded = await load(ctx, provider);
    verifyCsrf(loaded, parseForm(abortForm, ctx.request.body).csrf);
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
