/** oidc-provider's own loopback set: the only hosts whose redirect port may vary for native clients. */
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Schemes that run code or read local data in a browser; oidc-provider refuses them too. */
const FORBIDDEN_SCHEMES = new Set(['javascript:', 'vbscript:', 'data:', 'blob:', 'file:', 'about:']);

/** True for a private-use scheme (com.example.app:/cb), which only native apps use (RFC 8252 §7.1). */
export function usesCustomScheme(uri: string): boolean {
  const protocol = URL.parse(uri)?.protocol;
  return protocol !== undefined && protocol !== 'http:' && protocol !== 'https:';
}

/**
 * Registration rules for redirect and post-logout URIs (AS-01): the provider compares them as exact
 * strings, so anything that invites a looser match (wildcards, fragments, user info) is refused here,
 * and plain http is allowed only where the traffic never leaves the machine (loopback).
 * @returns the problems found, each naming the URI; empty when it may be registered.
 */
export function checkRedirectUri(uri: string, label: string, options: { native: boolean }): string[] {
  const problems: string[] = [];
  const fail = (reason: string) => problems.push(`${label} "${uri}": ${reason}`);
  const parsed = /\s/.test(uri) ? null : URL.parse(uri);
  if (!parsed) {
    fail('is not an absolute URL');
    return problems;
  }
  // Checked on the raw string: URL drops an empty fragment ("https://rp/cb#"), which is still a fragment.
  if (uri.includes('#')) fail('must not have a fragment');
  if (uri.includes('*')) fail('must not contain wildcards (URIs are matched exactly)');
  if (parsed.username || parsed.password) fail('must not contain user info (user@host)');

  const loopback = LOOPBACK_HOSTS.has(parsed.hostname);
  switch (parsed.protocol) {
    case 'https:':
      // RFC 8252 §7.3 and oidc-provider: a native app on loopback uses http, never a claimed https URI.
      if (options.native && loopback) fail('native apps use http:// on loopback, not https://');
      break;
    case 'http:':
      if (!loopback) fail('http is allowed only on loopback (localhost, 127.0.0.1, [::1]); use https');
      break;
    default:
      if (FORBIDDEN_SCHEMES.has(parsed.protocol)) {
        fail(`the ${parsed.protocol.slice(0, -1)} scheme is not allowed`);
      } else if (!parsed.protocol.slice(0, -1).includes('.')) {
        // RFC 8252 §7.1: private-use schemes are reverse domain names the app's owner controls.
        fail('a custom scheme must be a reverse domain name, e.g. com.example.app:/callback');
      }
  }
  return problems;
}
