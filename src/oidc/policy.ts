import type { KoaContextWithOIDC } from 'oidc-provider';
import { interactionPolicy } from 'oidc-provider';
import { ACR } from './acr.ts';

export type Clock = () => number;

const { Check } = interactionPolicy;

/** How long a sign-in counts, by how it was made (SES-04; NIST SP 800-63B-4 §2.1.3, §2.2.3). */
export interface ReauthLimits {
  /** Seconds from a password-only sign-in (AAL1: at most 30 days). */
  passwordMaxAge: number;
  /** Seconds from a two-factor sign-in (AAL2: at most 24 hours). */
  mfaMaxAge: number;
  /** Seconds without activity before a two-factor session lapses (AAL2: at most 1 hour). */
  mfaIdle: number;
}

/** The login-prompt reasons that only ask for a stronger factor: the signed-in account stays, no password again. */
export const STEP_UP_REASONS = new Set(['mfa_required', 'acr_step_up', 'essential_acr', 'essential_acrs']);

/** Whether this client (metadata `mfa_required`, set by `gatehouse client add --mfa-required`) or the deployment demands MFA. */
export function requiresMfa(policy: { required: boolean }, client: { [key: string]: unknown } | undefined): boolean {
  return policy.required || client?.['mfa_required'] === true;
}

/**
 * The session lifetime oidc-provider stamps on every save (each authorization that uses the session is
 * activity). A two-factor session lives `mfaIdle` past its last use, so its `exp` is the moment it goes
 * idle; the reauthentication check below compares that with the injected clock. The stored TTL is
 * shifted by the clock's offset from real time so tests that move the clock see the same arithmetic.
 */
export function sessionTtl(limits: ReauthLimits, rememberTtl: number, clock: Clock) {
  return (_ctx: unknown, session: { acr?: string }): number => {
    if (session.acr !== ACR.mfa) return rememberTtl;
    const offset = Math.floor(clock() / 1000) - Math.floor(Date.now() / 1000);
    return Math.max(1, limits.mfaIdle + offset);
  };
}

/** MFA_REQUIRED, and what step-up asks of an account: whether it has a second factor to offer. */
export interface MfaPolicy {
  required: boolean;
  hasSecondFactor(accountId: string): Promise<boolean>;
}

/**
 * oidc-provider's default prompts plus ours. With prompt=none each surfaces as login_required.
 * - reauthentication_required (SES-04): a sign-in older than its limit (30 days password-only, 24 hours
 *   two-factor) or a two-factor session idle past `mfaIdle` must sign in again, whatever the cookie says.
 * - mfa_required (MFA-08): the deployment or the client requires a second factor the session lacks.
 * - acr_step_up: the RP asked (acr_values) for a class the session lacks and the account has a factor to
 *   ask for. acr_values is a voluntary request: without a factor the answer is truthfully the lesser acr.
 * Essential acr claims are oidc-provider's own checks (essential_acr, essential_acrs).
 * Each is skipped once this request's interaction has produced a login, so nothing loops.
 */
export function createInteractionPolicy(limits: ReauthLimits, mfa: MfaPolicy, clock: Clock) {
  const policy = interactionPolicy.base();
  const login = policy.get('login')!;
  const signedIn = (ctx: KoaContextWithOIDC) => Boolean(ctx.oidc.session?.accountId) && !ctx.oidc.result?.login;

  login.checks.add(
    new Check('reauthentication_required', 'The sign-in is too old and must be repeated', 'login_required', (ctx: KoaContextWithOIDC) => {
      if (!signedIn(ctx)) return Check.NO_NEED_TO_PROMPT;
      const session = ctx.oidc.session!;
      const authTime = session.authTime();
      if (authTime === undefined) return Check.REQUEST_PROMPT;
      const now = Math.floor(clock() / 1000);
      if (session.acr !== ACR.mfa) return now - authTime > limits.passwordMaxAge;
      return now - authTime > limits.mfaMaxAge || (session.exp !== undefined && now > session.exp);
    }),
  );
  login.checks.add(
    new Check('mfa_required', 'A second factor is required', 'login_required', (ctx: KoaContextWithOIDC) =>
      signedIn(ctx) && requiresMfa(mfa, ctx.oidc.client as unknown as Record<string, unknown>) && ctx.oidc.session!.acr !== ACR.mfa),
  );
  login.checks.add(
    new Check('acr_step_up', 'The requested authentication context is not met', 'login_required', async (ctx: KoaContextWithOIDC) => {
      if (!signedIn(ctx)) return Check.NO_NEED_TO_PROMPT;
      const session = ctx.oidc.session!;
      const requested = String(ctx.oidc.params?.['acr_values'] ?? '').split(' ').filter(Boolean);
      if (!requested.includes(ACR.mfa) || requested.includes(session.acr ?? '')) return Check.NO_NEED_TO_PROMPT;
      return mfa.hasSecondFactor(session.accountId!);
    }),
  );
  return policy;
}

/**
 * Consent is skipped only for clients an operator flagged first-party (`gatehouse client add
 * --first-party`): they get a grant for exactly what they asked for. Everyone else goes through the
 * consent page, where already-granted scopes are not asked again.
 */
export async function loadExistingGrant(ctx: KoaContextWithOIDC) {
  const { oidc } = ctx;
  const grantId = oidc.result?.consent?.grantId || oidc.session?.grantIdFor(oidc.client!.clientId);
  if (grantId) return oidc.provider.Grant.find(grantId);
  if (oidc.client?.['first_party'] !== true || !oidc.session?.accountId) return undefined;
  const grant = new oidc.provider.Grant({ clientId: oidc.client.clientId, accountId: oidc.session.accountId });
  grant.addOIDCScope([...oidc.requestParamScopes].join(' '));
  const claims = [...(oidc.requestParamClaims ?? [])];
  if (claims.length > 0) grant.addOIDCClaims(claims);
  // The requested scopes of each API asked for with `resource` (already checked as allowed for the client).
  for (const [indicator, server] of Object.entries(oidc.resourceServers ?? {})) {
    const scopes = [...oidc.requestParamScopes].filter((scope) => server.scopes.has(scope));
    if (scopes.length > 0) grant.addResourceScope(indicator, scopes.join(' '));
  }
  await grant.save();
  return grant;
}
