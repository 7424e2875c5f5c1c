import { passkeyRegistrationOptions, registerPasskey, type PasskeyDeps } from '../../src/accounts/mfa/passkeys.ts';
import type { TestServer } from './app.ts';
import { inputValue, type UserAgent } from './browserless.ts';
import { SoftAuthenticator, type SoftAuthenticatorOptions } from './soft-authenticator.ts';

export const passkeyDeps = (server: TestServer, now: () => number = Date.now): PasskeyDeps => ({
  db: server.app.db,
  issuer: server.issuer,
  now: () => new Date(now()),
});

/** A builder: a soft authenticator registered to the account through the real domain functions. */
export async function addPasskey(
  server: TestServer,
  account: { id: string; email: string; name?: string | null },
  options: Partial<SoftAuthenticatorOptions> = {},
): Promise<SoftAuthenticator> {
  const authenticator = new SoftAuthenticator({ origin: new URL(server.issuer).origin, ...options });
  const deps = passkeyDeps(server);
  const creation = await passkeyRegistrationOptions(deps, { id: account.id, email: account.email, name: account.name ?? null });
  const saved = await registerPasskey(deps, account.id, JSON.stringify(authenticator.register(creation)), 'Test key');
  if (!saved) throw new Error('the soft authenticator was not registered');
  return authenticator;
}

/**
 * The sign-in page's passkey form, as the browser script drives it: POST the form's CSRF token to
 * /passkey/options, answer with `authenticator`, then POST the response to /passkey/verify.
 * `html` is the interaction page (login or mfa) the user is on.
 */
export async function passkeyOptions(ua: UserAgent, issuer: string, uid: string, html: string): Promise<Response> {
  return ua.request(`${issuer}/interaction/${uid}/passkey/options`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({ csrf: inputValue(html, 'csrf') }).toString(),
  });
}

export function postPasskeyResponse(ua: UserAgent, issuer: string, uid: string, html: string, response: unknown, extra: Record<string, string> = {}): Promise<Response> {
  return ua.post(`${issuer}/interaction/${uid}/passkey/verify`, { csrf: inputValue(html, 'csrf'), response: JSON.stringify(response), ...extra });
}

/** Options, the authenticator's answer, and the verify POST in one go; returns the verify response. */
export async function usePasskey(ua: UserAgent, issuer: string, uid: string, html: string, authenticator: SoftAuthenticator, extra: Record<string, string> = {}): Promise<Response> {
  const options = await passkeyOptions(ua, issuer, uid, html);
  if (options.status !== 200) throw new Error(`passkey options refused: ${options.status} ${await options.text()}`);
  return postPasskeyResponse(ua, issuer, uid, html, authenticator.assert((await options.json()) as { challenge: string; rpId?: string }), extra);
}
