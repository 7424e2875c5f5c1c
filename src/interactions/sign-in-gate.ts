import type { Context } from 'koa';
import type { AuditLog } from '../audit/audit-log.ts';
import type { SignInAttempt, SignInLimits } from '../security/sign-in-limits.ts';

export interface SignInGateDeps {
  signInLimits: SignInLimits;
  audit: AuditLog;
}

/**
 * The sign-in limits around POST /interaction/:uid/login (src/security/sign-in-limits.ts has the rules).
 * Called after the CSRF check and before any argon2 work. A refusal is audited (sign_in, failure,
 * rate_limited, with the limit that refused) and goes to the one presenter as 429 with Retry-After,
 * a page or JSON by Accept, exactly like the account pages' 429s.
 * @throws TooManyRequestsError when a limit refuses; RateLimitUnavailableError (503) when the store is down.
 */
export async function admitSignIn(deps: SignInGateDeps, ctx: Context, email: string, clientId: string): Promise<SignInAttempt> {
  const admission = await deps.signInLimits.admit(ctx.ip, email);
  if (admission.ok) return admission.attempt;
  await deps.audit.record(
    { type: 'sign_in', outcome: 'failure', reason: 'rate_limited', accountId: admission.accountId, clientId, details: { limit: admission.limit } },
    ctx,
  );
  ctx.set('Retry-After', String(admission.error.retryAfterSeconds));
  throw admission.error;
}

/**
 * Tells the limits how the password check ended; the failure that locks the account is audited as
 * account_locked (the attempt itself is audited by the caller as a sign_in failure).
 */
export async function settleSignIn(deps: SignInGateDeps, ctx: Context, attempt: SignInAttempt, passwordAccepted: boolean, clientId: string): Promise<void> {
  const { locked } = await attempt.settle(passwordAccepted);
  if (locked) await deps.audit.record({ type: 'account_locked', accountId: attempt.accountId, clientId, details: { failures: attempt.failures } }, ctx);
}
