import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as oidc from 'openid-client';

export interface RelyingParty {
  url: string;
  /** Registers this RP's redirect and post-logout URIs for a client id (call before the first sign-in). */
  redirectUri: string;
  postLogoutUri: string;
  close(): Promise<void>;
}

interface Pending {
  clientId: string;
  verifier: string;
  state: string;
  nonce: string;
}

/**
 * A small real relying party on loopback, built on openid-client: /login?client=ID starts code + PKCE
 * (passing prompt, acr_values and a `claims` request through), /cb validates the response and shows the ID
 * token's `sub`, `acr` and `amr` (and all its claims as JSON in #claims), /logout?client=ID starts RP-initiated
 * logout with the last ID token as hint. One "browser session" at a time is all the tests need.
 */
export async function startRelyingParty(issuer: string, secrets: Record<string, string>): Promise<RelyingParty> {
  const configs = new Map<string, oidc.Configuration>();
  const configFor = async (clientId: string) => {
    let config = configs.get(clientId);
    if (!config) {
      config = await oidc.discovery(new URL(issuer), clientId, undefined, oidc.ClientSecretBasic(secrets[clientId]!), {
        execute: [oidc.allowInsecureRequests],
      });
      configs.set(clientId, config);
    }
    return config;
  };
  let pending: Pending | undefined;
  let lastIdToken: string | undefined;
  let base = '';

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url!, base);
    const page = (status: number, body: string) => res.writeHead(status, { 'content-type': 'text/html' }).end(`<!doctype html><html lang="en"><title>RP</title><main>${body}</main></html>`);
    void (async () => {
      const clientId = url.searchParams.get('client') ?? pending?.clientId ?? '';
      if (url.pathname === '/login') {
        const config = await configFor(clientId);
        pending = { clientId, verifier: oidc.randomPKCECodeVerifier(), state: oidc.randomState(), nonce: oidc.randomNonce() };
        const target = oidc.buildAuthorizationUrl(config, {
          redirect_uri: `${base}/cb`,
          scope: 'openid email',
          code_challenge: await oidc.calculatePKCECodeChallenge(pending.verifier),
          code_challenge_method: 'S256',
          state: pending.state,
          nonce: pending.nonce,
          ...(url.searchParams.get('prompt') ? { prompt: url.searchParams.get('prompt')! } : {}),
          ...(url.searchParams.get('acr_values') ? { acr_values: url.searchParams.get('acr_values')! } : {}),
          ...(url.searchParams.get('claims') ? { claims: url.searchParams.get('claims')! } : {}),
        });
        res.writeHead(302, { location: target.href }).end();
      } else if (url.pathname === '/cb') {
        if (url.searchParams.get('error')) return page(200, `<p id="error">${url.searchParams.get('error')}</p>`);
        const tokens = await oidc.authorizationCodeGrant(await configFor(pending!.clientId), url, {
          pkceCodeVerifier: pending!.verifier,
          expectedState: pending!.state,
          expectedNonce: pending!.nonce,
        });
        lastIdToken = tokens.id_token;
        const claims = tokens.claims()!;
        page(200, `<p>Signed in to ${pending!.clientId} as <span id="sub">${claims.sub}</span></p>`
          + `<p>acr <span id="acr">${String(claims.acr)}</span>, amr <span id="amr">${((claims.amr ?? []) as string[]).join(' ')}</span></p>`
          + `<pre id="claims">${JSON.stringify(claims).replace(/[<&]/g, (c) => `&#${c.charCodeAt(0)};`)}</pre>`);
      } else if (url.pathname === '/logout') {
        const target = oidc.buildEndSessionUrl(await configFor(clientId), { id_token_hint: lastIdToken!, post_logout_redirect_uri: `${base}/bye` });
        res.writeHead(302, { location: target.href }).end();
      } else if (url.pathname === '/bye') {
        page(200, '<p id="bye">Signed out</p>');
      } else {
        page(404, 'not found');
      }
    })().catch((error: unknown) => page(500, `<p id="failure">${(error as Error).message}</p>`));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    redirectUri: `${base}/cb`,
    postLogoutUri: `${base}/bye`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
