import type Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { z } from 'zod';
import { checkPassword } from '../accounts/authenticate.ts';
import type { AuditFailureReason } from '../audit/events.ts';
import { NotFoundError } from '../errors.ts';
import { parseForm } from '../http/form-pages.ts';
import type { PasswordHasher } from '../security/passwords.ts';
import type { SignInLimits } from '../security/sign-in-limits.ts';
import type { Db } from '../storage/postgres/db.ts';
import { startUpstreamFlow } from '../upstream/flow.ts';
import { UpstreamUnavailableError, type Upstreams } from '../upstream/providers.ts';
import { resolveUpstreamSignIn } from '../upstream/resolve.ts';
import { saveStage, type LoadedInteraction } from './context.ts';
import { clientIdOf, continueAfterFirstFactor, type SignInEffects } from './next-step.ts';
import { wrongStage, type InteractionPages } from './pages.ts';
import { admitSignIn, settleSignIn } from './sign-in-gate.ts';
import type { Stage, UpstreamNotice } from './state.ts';

export interface UpstreamSignInDeps extends SignInEffects {
  db: Db;
  hasher: PasswordHasher;
  signInLimits: SignInLimits;
  upstreams: Upstreams;
  https: boolean;
  provider(): Provider;
  now(): Date;
  /** Milliseconds since the epoch for the upstream flow's expiry (tests move it); Date.now when unset. */
  clock?: () => number;
  accounts: { registrationOpen: boolean; allowUnverifiedSignIn: boolean; mfaRequired: boolean };
}

const linkForm = z.object({ password: z.string().max(4096).default(''), csrf: z.string().max(200).optional() });
const csrfForm = z.object({ csrf: z.string().max(200).optional() });

type LinkStage = Extract<Stage, { name: 'link' }>;
type UpstreamStage = Extract<Stage, { name: 'upstream' }>;

/**
 * Sign-in through an upstream provider inside an interaction (issue 12; the callback itself is
 * src/upstream/router.ts): the link that starts it, what its result leads to when the interaction is
 * loaded again, and the page where an existing account's owner proves it is theirs before linking.
 */
export function addUpstreamSignInRoutes(router: Router, deps: UpstreamSignInDeps, pages: InteractionPages): {
  showStage(ctx: Context, loaded: LoadedInteraction): Promise<boolean>;
} {
  const { load, page, verifyCsrf } = pages;
  const policy = { ...deps, mfaRequired: deps.accounts.mfaRequired };
  /** Back to the sign-in page with a plain message; the failure is in the audit trail. */
  const backToLogin = async (ctx: Context, provider: Provider, loaded: LoadedInteraction, upstream: string, reason: UpstreamNotice, accountId?: string) => {
    const auditReason: AuditFailureReason = reason === 'refused' ? 'account_disabled' : reason === 'unverified' ? 'email_unverified' : `upstream_${reason}`;
    await deps.audit.record({ type: 'sign_in', outcome: 'failure', reason: auditReason, accountId, clientId: clientIdOf(loaded), details: { provider: upstream } }, ctx);
    await saveStage(ctx, provider, { name: 'login', upstreamNotice: { reason, provider: upstream } });
  };
  const linkPage = (ctx: Context, loaded: LoadedInteraction, stage: LinkStage, error?: string) =>
    page(ctx, loaded, 'interaction/link', {
      title: 'link.heading',
      email: stage.email,
      hasPassword: stage.hasPassword,
      providerName: deps.upstreams.get(stage.link.provider)?.name ?? stage.link.provider,
      error,
    });

  // A link, not a form: it works without JavaScript, and the page's form-action need not name every upstream.
  router.get('/upstream/:provider', async (ctx) => {
    const provider = deps.provider();
    const loaded = await load(ctx, provider);
    if (loaded.stage.name !== 'login') throw wrongStage();
    const id = String(ctx.params.provider);
    if (!deps.upstreams.get(id)) throw new NotFoundError('There is no such sign-in provider.');
    try {
      const url = await startUpstreamFlow(deps, ctx, id, { purpose: 'sign-in', uid: loaded.interaction.uid });
      ctx.status = 303;
      ctx.redirect(url.href);
    } catch (error) {
      if (!(error instanceof UpstreamUnavailableError)) throw error;
      await backToLogin(ctx, provider, loaded, id, 'unavailable');
    }
  });

  /** The callback saved what the upstream vouched for; this decides what it leads to. */
  async function afterUpstream(ctx: Context, provider: Provider, loaded: LoadedInteraction, stage: UpstreamStage): Promise<void> {
    const upstream = deps.upstreams.get(stage.provider);
    if (!upstream) return backToLogin(ctx, provider, loaded, stage.provider, 'failed');
    const resolution = await resolveUpstreamSignIn(
      { db: deps.db, mayCreateAccounts: deps.accounts.registrationOpen || upstream.createAccounts, now: deps.now },
      upstream.id,
      { subject: stage.subject, email: stage.email, emailVerified: stage.emailVerified, name: stage.displayName },
    );
    switch (resolution.kind) {
      case 'refused':
        return backToLogin(ctx, provider, loaded, upstream.id, resolution.reason);
      case 'prove-ownership':
        return saveStage(ctx, provider, {
          name: 'link',
          accountId: resolution.account.id,
          email: resolution.account.email,
          hasPassword: resolution.account.password_hash !== null,
          link: { provider: upstream.id, subject: stage.subject, email: stage.email ?? null },
        });
      case 'created':
        await deps.audit.record({ type: 'registration', accountId: resolution.account.id, clientId: clientIdOf(loaded), details: { provider: upstream.id } }, ctx);
        break;
      case 'account':
        break;
    }
    const { account } = resolution;
    if (!account.email_verified && !deps.accounts.allowUnverifiedSignIn) return backToLogin(ctx, provider, loaded, upstream.id, 'unverified', account.id);
    // remember: false: an upstream sign-in keeps the session for this browser session only.
    await continueAfterFirstFactor(ctx, provider, loaded, policy, { accountId: account.id, remember: false, factor: 'fed' });
  }

  // The owner of the account with the upstream's address proves it is theirs: its password here, under
  // the same limits as the sign-in form, then its second factor when enrolled; only then is it linked.
  router.post('/link', async (ctx) => {
    const provider = deps.provider();
    const loaded = await load(ctx, provider);
    const form = parseForm(linkForm, ctx.request.body);
    verifyCsrf(loaded, form.csrf);
    const { stage } = loaded;
    if (stage.name !== 'link') throw wrongStage();
    const clientId = clientIdOf(loaded);
    const attempt = await admitSignIn(deps, ctx, stage.email, clientId);
    const row = attempt.account?.id === stage.accountId ? attempt.account : undefined;
    const result = await checkPassword(deps.db, deps.hasher, row, form.password);
    await settleSignIn(deps, ctx, attempt, result.ok, clientId);
    const unverified = result.ok && !result.account.emailVerified && !deps.accounts.allowUnverifiedSignIn;
    if (!result.ok || unverified) {
      const failure = result.ok ? { reason: 'email_unverified' as const, accountId: result.account.id } : result;
      await deps.audit.record({ type: 'sign_in', outcome: 'failure', reason: failure.reason, accountId: failure.accountId, clientId, details: { provider: stage.link.provider } }, ctx);
      ctx.status = 400;
      return linkPage(ctx, loaded, stage, unverified ? 'login.unverified' : 'link.failed');
    }
    await continueAfterFirstFactor(ctx, provider, loaded, policy, { accountId: stage.accountId, remember: false, factor: 'pwd', link: stage.link });
  });

  // "Back to sign in" from the link page: nothing was linked; the interaction starts over at the sign-in form.
  router.post('/restart', async (ctx) => {
    const provider = deps.provider();
    const loaded = await load(ctx, provider);
    verifyCsrf(loaded, parseForm(csrfForm, ctx.request.body).csrf);
    if (loaded.stage.name !== 'link') throw wrongStage();
    await saveStage(ctx, provider, { name: 'login' });
  });

  return {
    async showStage(ctx, loaded) {
      const { stage } = loaded;
      if (stage.name === 'upstream') await afterUpstream(ctx, deps.provider(), loaded, stage);
      else if (stage.name === 'link') linkPage(ctx, loaded, stage);
      else return false;
      return true;
    },
  };
}
