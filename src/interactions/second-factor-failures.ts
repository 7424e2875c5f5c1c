import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { AuditLog } from '../audit/audit-log.ts';
import { AppError } from '../errors.ts';
import type { LoadedInteraction } from './context.ts';
import { clientIdOf } from './next-step.ts';
import { MAX_MFA_FAILURES, type Stage } from './state.ts';

/** The sign-in ran out of second-factor attempts (this interaction) or the authenticator is locked. */
export class TooManyCodesError extends AppError {
  constructor(locked: boolean) {
    super(400, locked ? 'mfa_locked' : 'mfa_too_many_attempts', locked
      ? 'Codes from your authenticator app are locked after too many wrong ones. Sign in again and enter one of your recovery codes instead; then set the app up again on your sign-in security page.'
      : 'Too many wrong codes. Go back to the application and sign in again.');
  }
}

type CountedStage = Extract<Stage, { name: 'mfa' | 'enrol' }>;

/**
 * One more failed second factor in this interaction, whatever it was (app code, recovery code, passkey,
 * or a setup code), audited. At MAX_MFA_FAILURES, or when the authenticator is locked, the interaction
 * is destroyed and the next attempt starts again from the password (MFA-04); otherwise the count is saved
 * in the interaction and the caller answers 400.
 * @throws TooManyCodesError when this sign-in is over
 */
export async function countSecondFactorFailure(
  ctx: Context,
  provider: Provider,
  loaded: LoadedInteraction,
  stage: CountedStage,
  failure: { factor: string; locked?: boolean },
  audit: AuditLog,
): Promise<void> {
  const failures = stage.failures + 1;
  const locked = failure.locked === true;
  const reason = locked ? 'account_locked' : failures >= MAX_MFA_FAILURES ? 'too_many_attempts' : 'wrong_code';
  await audit.record({ type: 'mfa_verify', outcome: 'failure', reason, accountId: stage.accountId, clientId: clientIdOf(loaded), details: { factor: failure.factor, failures } }, ctx);
  if (locked || failures >= MAX_MFA_FAILURES) {
    await loaded.interaction.destroy();
    throw new TooManyCodesError(locked);
  }
  await provider.interactionResult(ctx.req, ctx.res, { gatehouse: { ...stage, failures } }, { mergeWithLastSubmission: false });
}
