/**
 * The OpenID Connect scopes the provider itself serves (claims about the user). Every other scope is an
 * API's (`gatehouse api add --scope`), granted only together with `resource` (RFC 8707).
 */
export const OIDC_SCOPES = ['openid', 'offline_access', 'email', 'profile', 'roles'] as const;

export function isOidcScope(scope: string): boolean {
  return (OIDC_SCOPES as readonly string[]).includes(scope);
}
