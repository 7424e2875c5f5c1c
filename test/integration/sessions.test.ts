import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startTestServer, type TestServer } from '../support/app.ts';
import { UserAgent } from '../support/browserless.ts';
import { authorizationUrl, codeOf, open, seedBasics, submitConsent, submitLogin } from '../support/fixtures.ts';

interface ParsedCookie {
  name: string;
  attributes: Map<string, string>;
  size: number;
}

function parseSetCookie(header: string): ParsedCookie {
  const [pair, ...rest] = header.split(';').map((part) => part.trim());
  const attributes = new Map(rest.map((part) => {
    const [key, ...value] = part.split('=');
    return [key!.toLowerCase(), value.join('=')] as const;
  }));
  return { name: pair!.slice(0, pair!.indexOf('=')), attributes, size: header.length };
}

const DAY = 24 * 3600 * 1000;

describe('sessions and cookies', () => {
  let server: TestServer;
  let offset = 0;

  beforeAll(async () => {
    // An https issuer behind a pretend TLS proxy, so cookies get their production attributes.
    server = await startTestServer({ DATA_DIR: 'memory://', ISSUER: 'https://id.gatehouse.test', TRUST_PROXY: 'true' }, { clock: () => Date.now() + offset });
    await seedBasics(server);
  });

  afterAll(async () => {
    await server?.close();
  });

  const agent = () => new UserAgent({ issuer: server.issuer, url: server.url });

  async function signIn(ua: UserAgent, client = 'web', params: Record<string, string> = {}, form: Record<string, string> = {}) {
    const login = await open(ua, server.issuer, authorizationUrl(server.issuer, client, params));
    const afterLogin = await submitLogin(ua, server.issuer, login, form);
    return afterLogin.html.includes('/consent"') ? submitConsent(ua, server.issuer, afterLogin) : afterLogin;
  }

  it('SES-03: every cookie is Secure, HttpOnly, SameSite=Lax, prefixed, signed and small', async () => {
    const ua = agent();
    const done = await signIn(ua);
    expect(codeOf(done.url)).toBeTruthy();
    const cookies = ua.setCookies.map(parseSetCookie).filter((cookie) => !cookie.attributes.has('expires') || !cookie.attributes.get('expires')!.includes('1970'));
    const names = new Set(cookies.map((cookie) => cookie.name));
    // gh_device: the new-browser check's long-lived cookie (NEW_DEVICE_ALERTS), held to the same rules.
    expect(names).toEqual(new Set(['__Secure-gh_interaction', '__Secure-gh_interaction.sig', '__Secure-gh_resume', '__Secure-gh_resume.sig', '__Host-gh_session', '__Host-gh_session.sig', '__Host-gh_device', '__Host-gh_device.sig']));
    for (const cookie of cookies) {
      expect(cookie.attributes.has('secure')).toBe(true);
      expect(cookie.attributes.has('httponly')).toBe(true);
      expect(cookie.attributes.get('samesite')).toBe('lax');
      expect(cookie.attributes.has('domain')).toBe(false);
      expect(cookie.size).toBeLessThanOrEqual(4096);
      if (cookie.name.startsWith('__Host-')) expect(cookie.attributes.get('path')).toBe('/');
    }
  });

  it('HSTS is sent over https, on pages and on the JSON endpoints', async () => {
    const response = await agent().get(`${server.issuer}/healthz`);
    expect(response.headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
    const jwks = await agent().get(`${server.issuer}/jwks`);
    expect(jwks.headers.get('content-type')).toMatch(/jwk-set\+json/);
    expect(jwks.headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
  });

  it('remember me: unticked gives a browser-session cookie, ticked keeps it for SESSION_TTL', async () => {
    const sessionCookie = (ua: UserAgent) => ua.setCookies.map(parseSetCookie).filter((cookie) => cookie.name === '__Host-gh_session').at(-1)!;
    const forgetful = agent();
    await signIn(forgetful);
    expect(sessionCookie(forgetful).attributes.has('expires')).toBe(false);

    const remembered = agent();
    await signIn(remembered, 'web', {}, { remember: '1' });
    const expires = Date.parse(sessionCookie(remembered).attributes.get('expires')!);
    expect(expires - Date.now()).toBeGreaterThan(29 * DAY);
    expect(expires - Date.now()).toBeLessThanOrEqual(30 * DAY + 60_000);
  });

  it('SES-01: a new session id at every sign-in; the old one no longer authenticates', async () => {
    const ua = agent();
    await signIn(ua);
    const before = ua.cookies.get('__Host-gh_session')!;
    const beforeSig = ua.cookies.get('__Host-gh_session.sig')!;
    await signIn(ua, 'web', { prompt: 'login' });
    expect(ua.cookies.get('__Host-gh_session')).not.toBe(before);

    const replay = agent();
    replay.cookies.set('__Host-gh_session', before);
    replay.cookies.set('__Host-gh_session.sig', beforeSig);
    const { url } = await replay.follow(authorizationUrl(server.issuer, 'web', { prompt: 'none' }), server.issuer);
    expect(new URL(url).searchParams.get('error')).toBe('login_required');
  });

  it('SSO: a second client gets a code after its consent, with no password; consent is not asked twice', async () => {
    const ua = agent();
    await signIn(ua, 'web');
    const other = await open(ua, server.issuer, authorizationUrl(server.issuer, 'other'));
    expect(other.html).toContain('/consent"');
    expect(other.html).not.toContain('name="password"');
    const granted = await submitConsent(ua, server.issuer, other);
    expect(codeOf(granted.url)).toBeTruthy();
    const again = await ua.follow(authorizationUrl(server.issuer, 'other'), server.issuer);
    expect(codeOf(again.url)).toBeTruthy();
  });

  it('a first-party client skips consent; deny returns access_denied with iss to the others', async () => {
    const ua = agent();
    const done = await signIn(ua, 'house');
    expect(codeOf(done.url)).toBeTruthy();
    const consent = await open(ua, server.issuer, authorizationUrl(server.issuer, 'other'));
    const denied = await submitConsent(ua, server.issuer, consent, 'deny');
    const params = new URL(denied.url).searchParams;
    expect(params.get('error')).toBe('access_denied');
    expect(params.get('iss')).toBe(server.issuer);
  });

  it('SES-04: a password sign-in older than 30 days must be repeated; younger ones are silent SSO', async () => {
    const ua = agent();
    await signIn(ua, 'web', {}, { remember: '1' });
    offset = 29 * DAY;
    try {
      const silent = await ua.follow(authorizationUrl(server.issuer, 'web', { prompt: 'none' }), server.issuer);
      expect(codeOf(silent.url)).toBeTruthy();
      offset = 30 * DAY + 60_000;
      const none = await ua.follow(authorizationUrl(server.issuer, 'web', { prompt: 'none' }), server.issuer);
      expect(new URL(none.url).searchParams.get('error')).toBe('login_required');
      const prompted = await open(ua, server.issuer, authorizationUrl(server.issuer, 'web'));
      expect(prompted.html).toContain('name="password"');
    } finally {
      offset = 0;
    }
  });

  it('max_age and prompt=login make a signed-in user enter the password again', async () => {
    const ua = agent();
    await signIn(ua);
    const fresh = await ua.follow(authorizationUrl(server.issuer, 'web', { max_age: '60' }), server.issuer);
    expect(codeOf(fresh.url)).toBeTruthy();
    // oidc-provider judges max_age on its own clock (whole seconds), so this one waits for real.
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const aged = await open(ua, server.issuer, authorizationUrl(server.issuer, 'web', { max_age: '1' }));
    expect(aged.html).toContain('name="password"');
    const forced = await open(ua, server.issuer, authorizationUrl(server.issuer, 'web', { prompt: 'login' }));
    expect(forced.html).toContain('name="password"');
  });

  describe('SES-06: sign-out', () => {
    it('a GET to end_session only shows a confirmation; the session survives it and a POST without the xsrf token', async () => {
      const ua = agent();
      await signIn(ua);
      const confirm = await ua.get(`${server.issuer}/session/end`);
      expect(confirm.status).toBe(200);
      const html = await confirm.text();
      expect(html).toContain('op.logoutForm');
      expect(html).not.toContain('<script');
      const forged = await ua.post(`${server.issuer}/session/end/confirm`, { logout: 'yes' });
      expect(forged.status).toBe(400);
      const crossSite = await ua.request(`${server.issuer}/session/end/confirm`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.test' },
        body: new URLSearchParams({ logout: 'yes', xsrf: /name="xsrf" value="([^"]+)"/.exec(html)![1]! }).toString(),
      });
      expect(crossSite.status).toBe(403);
      const still = await ua.follow(authorizationUrl(server.issuer, 'web', { prompt: 'none' }), server.issuer);
      expect(codeOf(still.url)).toBeTruthy();
    });

    it('ignores a post_logout_redirect_uri that is not registered for the client', async () => {
      const ua = agent();
      await signIn(ua);
      const response = await ua.get(`${server.issuer}/session/end?client_id=web&post_logout_redirect_uri=${encodeURIComponent('https://evil.test/')}`);
      expect(response.status).toBe(400);
      expect(response.headers.get('location')).toBeNull();
    });

    it('confirming ends the session and shows our signed-out page', async () => {
      const ua = agent();
      await signIn(ua);
      const html = await (await ua.get(`${server.issuer}/session/end`)).text();
      const done = await ua.post(`${server.issuer}/session/end/confirm`, { logout: 'yes', xsrf: /name="xsrf" value="([^"]+)"/.exec(html)![1]! });
      const { response } = await ua.follow(`${server.issuer}/session/end/confirm`, server.issuer, done);
      expect(await response.text()).toContain('/assets/gatehouse.css');
      const after = await ua.follow(authorizationUrl(server.issuer, 'web', { prompt: 'none' }), server.issuer);
      expect(new URL(after.url).searchParams.get('error')).toBe('login_required');
    });
  });
});
