import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { UserAgent, formAction } from '../support/browserless.ts';
import { startUpstream, type Upstream } from '../support/upstream-provider.ts';

// Never contacted: the user agent stops following redirects where they leave the upstream.
const REDIRECT_URI = 'http://127.0.0.1:9/upstream/test/callback';

/**
 * The upstream test provider behaves like a real OpenID provider to a real relying party library
 * (openid-client), so Gatehouse's upstream sign-in tests can trust it. No Postgres or Redis needed.
 */
describe('upstream OpenID provider fixture', () => {
  let upstream: Upstream;

  beforeAll(async () => {
    upstream = await startUpstream({ redirectUris: [REDIRECT_URI] });
    upstream.users.set('alice-sub', { email: 'alice@example.com', email_verified: true, name: 'Alice' });
    upstream.users.set('mallory-sub', { email: 'victim@example.com', email_verified: false });
  });
  afterAll(() => upstream.close());

  const configure = (auth = oidc.ClientSecretBasic(upstream.clientSecret)) =>
    oidc.discovery(new URL(upstream.issuer), upstream.clientId, undefined, auth, { execute: [oidc.allowInsecureRequests] });

  /** Starts code + PKCE + state + nonce and opens the upstream's sign-in page (or lands on the callback directly). */
  async function start(config: oidc.Configuration, ua: UserAgent) {
    const checks = { pkceCodeVerifier: oidc.randomPKCECodeVerifier(), expectedState: oidc.randomState(), expectedNonce: oidc.randomNonce() };
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI,
      scope: 'openid email profile',
      code_challenge: await oidc.calculatePKCECodeChallenge(checks.pkceCodeVerifier),
      code_challenge_method: 'S256',
      state: checks.expectedState,
      nonce: checks.expectedNonce,
    });
    const landed = await ua.follow(url.href, upstream.issuer);
    return { checks, landed };
  }

  /** Types `sub` and clicks a button; returns where the upstream finally sends the browser. */
  async function submit(ua: UserAgent, html: string, form: Record<string, string>) {
    const action = new URL(formAction(html, '/login'), upstream.issuer).href;
    return ua.follow(action, upstream.issuer, await ua.post(action, form));
  }

  it('signs a known user in through the sign-in page and issues an ID token with their email', async () => {
    const config = await configure();
    const ua = new UserAgent();
    const { checks, landed } = await start(config, ua);
    expect(landed.response.status).toBe(200);
    const html = await landed.response.text();
    expect(html).toMatch(/<label for="sub">/);
    expect(html).toMatch(/name="action" value="cancel"/);

    const unknown = await ua.post(new URL(formAction(html, '/login'), upstream.issuer).href, { sub: 'nobody', action: 'login' });
    expect(unknown.status).toBe(400);
    const callback = await submit(ua, await unknown.text(), { sub: 'alice-sub', action: 'login' });
    expect(callback.url.startsWith(`${REDIRECT_URI}?`)).toBe(true);
    expect([...ua.cookies.keys()].every((name) => name.startsWith('up_'))).toBe(true);

    const tokens = await oidc.authorizationCodeGrant(config, new URL(callback.url), checks);
    expect(tokens.claims()).toMatchObject({
      iss: upstream.issuer, aud: upstream.clientId, sub: 'alice-sub', nonce: checks.expectedNonce,
      email: 'alice@example.com', email_verified: true, name: 'Alice',
    });
    const request = upstream.authorizationRequests.at(-1)!;
    expect(request.get('code_challenge_method')).toBe('S256');
    expect(request.get('code_challenge')).toBe(await oidc.calculatePKCECodeChallenge(checks.pkceCodeVerifier));
    expect(request.get('state')).toBe(checks.expectedState);
    expect(request.get('nonce')).toBe(checks.expectedNonce);
    expect(request.get('scope')).toBe('openid email profile');

    // The upstream remembers the browser: the next sign-in skips the page, as at Google.
    const again = await start(config, ua);
    expect(again.landed.url.startsWith(`${REDIRECT_URI}?`)).toBe(true);
  });

  it('passes the upstream\'s email_verified false through, and accepts client_secret_post', async () => {
    const config = await configure(oidc.ClientSecretPost(upstream.clientSecret));
    const ua = new UserAgent();
    const { checks, landed } = await start(config, ua);
    const callback = await submit(ua, await landed.response.text(), { sub: 'mallory-sub', action: 'login' });
    const tokens = await oidc.authorizationCodeGrant(config, new URL(callback.url), checks);
    expect(tokens.claims()).toMatchObject({ sub: 'mallory-sub', email: 'victim@example.com', email_verified: false });
  });

  it('answers Cancel with access_denied and the state', async () => {
    const config = await configure();
    const ua = new UserAgent();
    const { checks, landed } = await start(config, ua);
    const callback = await submit(ua, await landed.response.text(), { sub: '', action: 'cancel' });
    const params = new URL(callback.url).searchParams;
    expect(params.get('error')).toBe('access_denied');
    expect(params.get('state')).toBe(checks.expectedState);
    await expect(oidc.authorizationCodeGrant(config, new URL(callback.url), checks)).rejects.toThrow(/access_denied|authorization response/i);
  });

  it('corrupts the ID token signature on demand, which a relying party checking signatures refuses', async () => {
    const ua = new UserAgent();
    const config = await configure();
    oidc.enableNonRepudiationChecks(config);
    const { checks, landed } = await start(config, ua);
    const callback = await submit(ua, await landed.response.text(), { sub: 'alice-sub', action: 'login' });
    upstream.tamper.idTokenSignature = true;
    try {
      // openid-client wraps the reason (OAUTH_INVALID_RESPONSE "invalid response encountered"); the cause says why.
      const refused = await oidc.authorizationCodeGrant(config, new URL(callback.url), checks).then(() => undefined, (error: unknown) => error as Error);
      expect((refused?.cause as Error | undefined)?.message).toBe('JWT signature verification failed');
      // Without enableNonRepudiationChecks openid-client trusts the token endpoint over TLS and does not verify
      // the ID token's signature at all: the consumer of this fixture must turn the checks on.
      const lax = await configure();
      const second = await start(lax, ua);
      const tokens = await oidc.authorizationCodeGrant(lax, new URL(second.landed.url), second.checks);
      expect(tokens.claims()?.sub).toBe('alice-sub');
    } finally {
      upstream.tamper.idTokenSignature = false;
    }
  });
});
