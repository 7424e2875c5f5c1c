import type { Counter } from 'prom-client';
import type { ClientAuthLimits } from '../security/client-auth-limits.ts';
import type { AccountRateLimits, LimitVerdict } from '../security/rate-limits.ts';
import type { SignInLimits } from '../security/sign-in-limits.ts';

/**
 * Each limit's refusals (the 429s) counted by the limit's name, by wrapping the limit where app.ts builds
 * it: the limits themselves stay free of metrics, and a refusal is counted whichever route turns it into
 * a response (the one presenter, or the OAuth JSON of the client-authentication limit).
 */
type Blocks = Counter<'limit'>;

function counted<A extends unknown[]>(blocks: Blocks, limit: string, check: (...args: A) => Promise<LimitVerdict>) {
  return async (...args: A): Promise<LimitVerdict> => {
    const verdict = await check(...args);
    if (!verdict.ok) blocks.inc({ limit });
    return verdict;
  };
}

/** sign-in-ip, sign-in-pair, sign-in-account (the account's growing delay). */
export function countSignInBlocks(limits: SignInLimits, blocks: Blocks): SignInLimits {
  return {
    ...limits,
    async admit(ip, email) {
      const admission = await limits.admit(ip, email);
      if (!admission.ok) blocks.inc({ limit: `sign-in-${admission.limit}` });
      return admission;
    },
  };
}

/** client-auth: failed client authentications per (client, IP) at /token, introspection, revocation, /request. */
export function countClientAuthBlocks(limits: ClientAuthLimits, blocks: Blocks): ClientAuthLimits {
  return { ...limits, check: counted(blocks, 'client-auth', limits.check.bind(limits)) };
}

/** The account pages: register, mail-request (forgot password, resend), token-attempt (mailed links). */
export function countAccountBlocks(limits: AccountRateLimits, blocks: Blocks): AccountRateLimits {
  return {
    register: counted(blocks, 'register', limits.register.bind(limits)),
    mailRequest: counted(blocks, 'mail-request', limits.mailRequest.bind(limits)),
    tokenAttempt: counted(blocks, 'token-attempt', limits.tokenAttempt.bind(limits)),
  };
}
