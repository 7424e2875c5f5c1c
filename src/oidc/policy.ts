import type { KoaContextWithOIDC } from 'oidc-provider';
import { interactionPolicy } from 'oidc-provider';

export type Clock = () => number;

/**
 * oidc-provider's default prompts plus our reauthentication limit (SES-04): a session whose last
 * password sign-in is older than `passwordMaxAge` seconds must sign in again, whatever the cookie's
 * lifetime. With prompt=none this surfaces as login_required. The clock is injected so tests can age a
 * session without waiting.
 */
export function createInteractionPolicy(limits: { passwordMaxAge: number }, clock: Clock) {
  const policy = interactionPolicy.base();
  const login = policy.get('login')!;
  login.checks.add(
    new interactionPolicy.Check('reauthentication_required', 'The sign-in is too old and must be repeated', 'login_required', (ctx: KoaContextWithOIDC) => {
      const { session, result } = ctx.oidc;
      if (!session?.accountId || result?.login) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
      const authTime = session.authTime();
      if (authTime === undefined) return interactionPolicy.Check.REQUEST_PROMPT;
      const ageSeconds = Math.floor(clock() / 1000) - authTime;
      return ageSeconds > limits.passwordMaxAge ? interactionPolicy.Check.REQUEST_PROMPT : interactionPolicy.Check.NO_NEED_TO_PROMPT;
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
  await grant.save();
  return grant;
}
