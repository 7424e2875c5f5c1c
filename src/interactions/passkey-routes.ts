import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { z } from 'zod';
import { passkeyAmr, passkeyAuthenticationOptions, verifyPasskeyAssertion, type PasskeyUse } from '../accounts/mfa/passkey-assertions.ts';
import type { PasskeyDeps } from '../accounts/mfa/passkeys.ts';
import { AppError, BadRequestError } from '../errors.ts';
import { parseForm } from '../http/form-pages.ts';
import type { CsrfTokens } from '../http/middleware/csrf.ts';
import { preferUiLocales } from '../http/middleware/locale.ts';
import { noStore } from '../http/middleware/no-store.ts';
import { ACR } from '../oidc/acr.ts';
import { findAccountById } from '../storage/postgres/accounts.queries.ts';
import { finishInteraction, loadInteraction, type LoadedInteraction } from './context.ts';
import { MAX_MFA_FAILURES, type Stage } from './state.ts';

/** The assertion failed: wrong or unknown credential, bad signature, replayed or expired challenge. */
export class PasskeyRejectedError extends AppError {
  constructor() {
    super(400, 'passkey_rejected', 'That passkey was not accepted. Go back and try again, or sign in another way.');
  }
}

/** Failed second-factor attempts (codes and passkeys together) used up this sign-in. */
class TooManyAttemptsError extends AppError {
  constructor() {
    super(400, 'mfa_too_many_attempts', 'Too many wrong codes. Go back to the application and sign in again.');
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
  csrf: CsrfTokens;
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

const wrongStage = () => new BadRequestError('This step of the sign-in is not available now. Go back and start again.', 'wrong_stage');

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
 * every other step. Both POSTs carry the interaction's CSRF token; app.ts applies the same-origin check
 * to all of /interaction/.
 */
export function passkeySignInRouter(deps: PasskeySignInDeps): Router {
  const router = new Router({ prefix: '/interaction/:uid/passkey' });
  router.use(noStore);
  // A WebAuthn response is a few kilobytes of base64url: more room than the password forms need.
  router.use(bodyParser({ enableTypes: ['form'], formLimit: '64kb' }));

  async function load(ctx: Context, provider: Provider, csrf: string | undefined): Promise<LoadedInteraction> {
    const loaded = await loadInteraction(ctx, provider);
    preferUiLocales(ctx, loaded.interaction.params.ui_locales);
    deps.csrf.verify(`interaction:${loaded.interaction.uid}`, csrf);
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
    if (stage.name === 'mfa') {
      if (!outcome.ok) return countFailure(ctx, provider, loaded, stage);
      await finishInteraction(ctx, provider, {
        login: { accountId: stage.accountId, amr: [...stage.amr, passkeyAmr(outcome.deviceType), 'mfa'], acr: ACR.mfa, remember: stage.remember },
      });
      return;
    }
    if (!outcome.ok) throw new PasskeyRejectedError();
    const account = await findAccountById(deps.passkeys.db, outcome.accountId);
    // The password sign-in's rules (accounts/authenticate.ts, interactions/router.ts): a disabled account
    // fails like a wrong credential; an unverified one is told why, where config keeps those out.
    if (!account || account.disabled_at !== null) throw new PasskeyRejectedError();
    if (!account.email_verified && !deps.allowUnverifiedSignIn) throw new UnverifiedSignInError();
    // A passkey with user verification is a multi-factor authenticator on its own (something you have,
    // unlocked by something you know or are), so it reaches the mfa level without a password (amr 'mfa').
    await finishInteraction(ctx, provider, {
      login: { accountId: account.id, amr: [passkeyAmr(outcome.deviceType), 'mfa'], acr: ACR.mfa, remember: form.remember === '1' },
    });
  });

  /**
   * A failed passkey counts like a wrong code: at MAX_MFA_FAILURES the interaction is destroyed and the
   * sign-in starts over from the password (MFA-04).
   * @throws TooManyAttemptsError or PasskeyRejectedError, always
   */
  async function countFailure(ctx: Context, provider: Provider, loaded: LoadedInteraction, stage: Extract<Stage, { name: 'mfa' }>): Promise<never> {
    const failures = stage.failures + 1;
    if (failures >= MAX_MFA_FAILURES) {
      await loaded.interaction.destroy();
      throw new TooManyAttemptsError();
    }
    await provider.interactionResult(ctx.req, ctx.res, { gatehouse: { ...stage, failures } }, { mergeWithLastSubmission: false });
    throw new PasskeyRejectedError();
  }

  return router;
}
