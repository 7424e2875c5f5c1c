import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { z } from 'zod';
import { passkeyAmr, passkeyAuthenticationOptions, verifyPasskeyAssertion, type PasskeyUse } from '../accounts/mfa/passkey-assertions.ts';
import type { PasskeyDeps } from '../accounts/mfa/passkeys.ts';
import type { KnownDevicesDeps } from '../accounts/known-devices.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { AppError } from '../errors.ts';
import { parseForm } from '../http/form-pages.ts';
import { noStore } from '../http/middleware/no-store.ts';
import { ACR } from '../oidc/acr.ts';
import { findAccountById } from '../storage/postgres/accounts.queries.ts';
import type { LoadedInteraction } from './context.ts';
import { clientIdOf, finishLogin, type SignInEffects } from './next-step.ts';
import { wrongStage, type InteractionPages } from './pages.ts';
import { countSecondFactorFailure } from './second-factor-failures.ts';
import type { Stage } from './state.ts';

/** The assertion failed: wrong or unknown credential, bad signature, replayed or expired challenge. */
export class PasskeyRejectedError extends AppError {
  constructor() {
    super(400, 'passkey_rejected', 'That passkey was not accepted. Go back and try again, or sign in another way.');
  }
}

/** A passwordless sign-in of an account whose address is unverified, where config keeps those out. */
class UnverifiedSignInError extends AppError {
  constructor() {
    super(403, 'login_unverified', 'Confirm your email address first: follow the link we sent you.');
  }
}

export interface PasskeySignInDeps {
  passkeys: PasskeyDeps;
  /** The interaction pages' loading and CSRF token, shared with the password and code forms. */
  pages: Pick<InteractionPages, 'load' | 'verifyCsrf'>;
  audit: AuditLog;
  devices: KnownDevicesDeps;
  /** A passkey as the second factor of a sign-in that proves ownership for an upstream link (issue 12). */
  upstreamLinks: SignInEffects['upstreamLinks'];
  provider(): Provider;
  /** Mirrors the password sign-in's rule (ALLOW_UNVERIFIED_SIGN_IN). */
  allowUnverifiedSignIn: boolean;
}

const optionsForm = z.object({ csrf: z.string().max(200).optional() });
const verifyForm = z.object({
  csrf: z.string().max(200).optional(),
  /** The browser's AuthenticationResponseJSON as text (shape-checked by the domain). */
  response: z.string().max(32_768).default(''),
  /** "Remember me" from the sign-in page (passwordless only; the mfa stage keeps the password step's). */
  remember: z.literal('1').optional(),
});

/** What a passkey may do in this stage: finish a second factor (mfa) or be the whole sign-in (login). */
function useFor(loaded: LoadedInteraction): PasskeyUse {
  const { stage, interaction } = loaded;
  if (stage.name === 'mfa') return { kind: 'second-factor', interactionUid: interaction.uid, accountId: stage.accountId };
  if (stage.name === 'login') return { kind: 'passwordless', interactionUid: interaction.uid };
  throw wrongStage();
}

/**
 * Passkeys in the sign-in (/interaction/:uid/passkey/*), beside the password and code forms. The page's
 * script asks for options (JSON, with a challenge bound to this interaction), runs the browser's WebAuthn
 * ceremony, and posts the response as a form, so success is the same 303 into the authorization flow as
 * every other step (finishLogin: an RP's essential acr still decides, and the sign-in is audited). Both
 * POSTs carry the interaction's CSRF token; app.ts applies the same-origin check to all of /interaction/.
 */
export function passkeySignInRouter(deps: PasskeySignInDeps): Router {
  const router = new Router({ prefix: '/interaction/:uid/passkey' });
  router.use(noStore);
  // A WebAuthn response is a few kilobytes of base64url: more room than the password forms need.
  router.use(bodyParser({ enableTypes: ['form'], formLimit: '64kb' }));

  async function load(ctx: Context, provider: Provider, csrf: string | undefined): Promise<LoadedInteraction> {
    const loaded = await deps.pages.load(ctx, provider);
    deps.pages.verifyCsrf(loaded, csrf);
    return loaded;
  }

  router.post('/options', async (ctx) => {
    const provider = deps.provider();
    const loaded = await load(ctx, provider, parseForm(optionsForm, ctx.request.body).csrf);
    const options = await passkeyAuthenticationOptions(deps.passkeys, useFor(loaded));
    if (!options) throw wrongStage(); // a second factor for an account without passkeys: the page offers none
    ctx.body = options;
  });

  router.post('/verify', async (ctx) => {
    const provider = deps.provider();
    const form = parseForm(verifyForm, ctx.request.body);
    const loaded = await load(ctx, provider, form.csrf);
    const use = useFor(loaded);
    const outcome = await verifyPasskeyAssertion(deps.passkeys, use, form.response);
    const { stage } = loaded;
    const clientId = clientIdOf(loaded);
    if (stage.name === 'mfa') {
      if (!outcome.ok) return countFailure(ctx, provider, loaded, stage);
      const amr = passkeyAmr(outcome.deviceType);
      await deps.audit.record({ type: 'mfa_verify', accountId: stage.accountId, clientId, details: { factor: 'passkey', amr } }, ctx);
      await finishLogin(ctx, provider, loaded, { accountId: stage.accountId, amr: [...stage.amr, amr, 'mfa'], acr: ACR.mfa, remember: stage.remember }, deps);
      return;
    }
    const refuse = async (reason: 'wrong_code' | 'account_disabled' | 'email_unverified', accountId?: string) =>
      deps.audit.record({ type: 'sign_in', outcome: 'failure', reason, accountId, clientId, details: { factor: 'passkey' } }, ctx);
    if (!outcome.ok) {
      await refuse('wrong_code');
      throw new PasskeyRejectedError();
    }
    const account = await findAccountById(deps.passkeys.db, outcome.accountId);
    // The password sign-in's rules (accounts/authenticate.ts, interactions/router.ts): a disabled account
    // fails like a wrong credential; an unverified one is told why, where config keeps those out.
    if (!account || account.disabled_at !== null) {
      await refuse('account_disabled', outcome.accountId);
      throw new PasskeyRejectedError();
    }
    if (!account.email_verified && !deps.allowUnverifiedSignIn) {
      await refuse('email_unverified', account.id);
      throw new UnverifiedSignInError();
    }
    // A passkey with user verification is a multi-factor authenticator on its own (something you have,
    // unlocked by something you know or are), so it reaches the mfa level without a password (amr 'mfa').
    await finishLogin(ctx, provider, loaded, { accountId: account.id, amr: [passkeyAmr(outcome.deviceType), 'mfa'], acr: ACR.mfa, remember: form.remember === '1' }, deps);
  });

  /**
   * A failed passkey counts like a wrong code: at MAX_MFA_FAILURES the sign-in starts over (MFA-04).
   * @throws TooManyCodesError or PasskeyRejectedError, always
   */
  async function countFailure(ctx: Context, provider: Provider, loaded: LoadedInteraction, stage: Extract<Stage, { name: 'mfa' }>): Promise<never> {
    await countSecondFactorFailure(ctx, provider, loaded, stage, { factor: 'passkey' }, deps.audit);
    throw new PasskeyRejectedError();
  }

  return router;
}
