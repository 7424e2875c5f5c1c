import type Provider from 'oidc-provider';

/** oidc-provider's endpoints that answer JSON only (no page, no redirect), by path; features that are off have none. */
export function protocolJsonPaths(provider: Provider): Set<string> {
  const paths = new Set(['/.well-known/openid-configuration']);
  for (const route of ['token', 'userinfo', 'jwks', 'introspection', 'revocation', 'pushed_authorization_request', 'device_authorization']) {
    try {
      paths.add(provider.pathFor(route));
    } catch {
      // that feature is off: no route
    }
  }
  return paths;
}
