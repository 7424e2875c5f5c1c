import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startTestServer, type TestServer } from '../support/app.ts';
import { formAction, inputValue, UserAgent } from '../support/browserless.ts';
import { authorizationUrl, codeOf, open, seedBasics, submitLogin, USER } from '../support/fixtures.ts';

/** WEB-01 (CSRF + same-origin), WEB-03 (headers, per-response CSP nonce), WEB-04 (no-store), on the real app. */
describe('web security of the sign-in pages', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ DATA_DIR: 'memory://' });
    await seedBasics(server);
  });

  afterAll(async () => {
    await server?.close();
  });

  const loginPage = async (ua = new UserAgent()) => ({ ua, page: await open(ua, server.issuer, authorizationUrl(server.issuer, 'web')) });
  const postLogin = (ua: UserAgent, html: string, form: Record<string, string>, headers: Record<string, string> = {}) =>
    ua.request(new URL(formAction(html, '/login'), server.issuer).href, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams({ email: USER.email, password: USER.password, ...form }).toString(),
    });

  describe('WEB-01: every state-changing POST needs a token bound to this interaction and a same-origin request', () => {
    it('refuses a sign-in POST without the CSRF token (403) and does not sign in', async () => {
      const { ua, page } = await loginPage();
      const response = await postLogin(ua, page.html, {}, { accept: 'application/json' });
      expect(response.status).toBe(403);
      expect(((await response.json()) as { error: string }).error).toBe('csrf_token_invalid');
      expect(ua.cookies.has('gh_session')).toBe(false);
    });

    it("refuses a token taken from another interaction (the attacker's own)", async () => {
      const attacker = await loginPage();
      const victim = await loginPage();
      const response = await postLogin(victim.ua, victim.page.html, { csrf: inputValue(attacker.page.html, 'csrf') });
      expect(response.status).toBe(403);
    });

    it('refuses a POST whose Origin is another site, even with a valid token', async () => {
      const { ua, page } = await loginPage();
      const response = await postLogin(ua, page.html, { csrf: inputValue(page.html, 'csrf') }, { origin: 'https://evil.test' });
      expect(response.status).toBe(403);
      expect(await response.text()).toContain('another site');
    });

    it('refuses a POST the browser marks Sec-Fetch-Site: cross-site', async () => {
      const { ua, page } = await loginPage();
      const response = await postLogin(ua, page.html, { csrf: inputValue(page.html, 'csrf') }, { 'sec-fetch-site': 'cross-site' });
      expect(response.status).toBe(403);
    });

    it('accepts our own form (Origin null under no-referrer, Sec-Fetch-Site same-origin)', async () => {
      const { ua, page } = await loginPage();
      const response = await postLogin(ua, page.html, { csrf: inputValue(page.html, 'csrf') }, { origin: 'null', 'sec-fetch-site': 'same-origin' });
      expect(response.status).toBe(303);
    });

    it('refuses consent and cancel POSTs without the token', async () => {
      const { ua, page } = await loginPage();
      const consent = await submitLogin(ua, server.issuer, page);
      const action = new URL(formAction(consent.html, '/consent'), server.issuer).href;
      expect((await ua.post(action, { decision: 'approve' })).status).toBe(403);
      const abort = new URL(formAction(consent.html, '/consent').replace('/consent', '/abort'), server.issuer).href;
      expect((await ua.post(abort, {})).status).toBe(403);
      // The real form still works afterwards: the refusals changed nothing.
      const approved = await ua.post(action, { decision: 'approve', csrf: inputValue(consent.html, 'csrf') });
      expect(approved.status).toBe(303);
    });

    it("refuses a consent POST replayed from the attacker's interaction into the victim's browser, issuing no code", async () => {
      const attacker = await loginPage();
      const attackerConsent = await submitLogin(attacker.ua, server.issuer, attacker.page);
      const victim = new UserAgent();
      const response = await victim.post(new URL(formAction(attackerConsent.html, '/consent'), server.issuer).href, {
        decision: 'approve',
        csrf: inputValue(attackerConsent.html, 'csrf'),
      });
      expect(response.status).toBe(400);
      expect(response.headers.get('location')).toBeNull();
    });
  });

  describe('requests: bound to the browser, capped, schema-checked', () => {
    it('refuses an interaction opened in another browser (no interaction cookie)', async () => {
      const { page } = await loginPage();
      const stranger = await fetch(page.url, { headers: { accept: 'text/html' } });
      expect(stranger.status).toBe(400);
      expect(await stranger.text()).toContain('This sign-in request has expired');
    });

    it('caps the request body (413) before reading a huge form', async () => {
      const { ua, page } = await loginPage();
      const response = await postLogin(ua, page.html, { csrf: inputValue(page.html, 'csrf'), password: 'x'.repeat(20_000) });
      expect(response.status).toBe(413);
    });

    it('answers a malformed form with a clear 400', async () => {
      const { ua, page } = await loginPage();
      const consent = await submitLogin(ua, server.issuer, page);
      const response = await ua.post(new URL(formAction(consent.html, '/consent'), server.issuer).href, { decision: 'maybe', csrf: inputValue(consent.html, 'csrf') });
      expect(response.status).toBe(400);
      expect(await response.text()).toContain('The form was not filled in as expected');
    });
  });

  describe('WEB-03 / WEB-04: headers on every page', () => {
    const cspOf = (response: Response) =>
      Object.fromEntries(
        response.headers
          .get('content-security-policy')!
          .split(';')
          .map((directive) => directive.trim().split(/\s+/))
          .map(([name, ...values]) => [name, values]),
      ) as Record<string, string[]>;

    it('sends a CSP whose nonce differs on every response, with no framing, no base, no plugins', async () => {
      const first = await fetch(`${server.issuer}/healthz`);
      const second = await fetch(`${server.issuer}/healthz`);
      const [a, b] = [cspOf(first), cspOf(second)];
      expect(a['script-src']![0]).toMatch(/^'nonce-[A-Za-z0-9+/=]{20,}'$/);
      expect(a['script-src']).not.toEqual(b['script-src']);
      expect(a['frame-ancestors']).toEqual(["'none'"]);
      expect(a['base-uri']).toEqual(["'none'"]);
      expect(a['object-src']).toEqual(["'none'"]);
      expect(a['default-src']).toEqual(["'self'"]);
    });

    it("limits form-action to us plus the client's redirect origin on the sign-in page", async () => {
      const ua = new UserAgent();
      const { response } = await ua.follow(authorizationUrl(server.issuer, 'web'), server.issuer);
      expect(cspOf(response)['form-action']).toEqual(["'self'", 'http://127.0.0.1:8080']);
      expect(cspOf(await fetch(`${server.issuer}/healthz`))['form-action']).toEqual(["'self'"]);
    });

    it.each([
      ['the sign-in page', async () => (await new UserAgent().follow(authorizationUrl(server.issuer, 'web'), server.issuer)).response],
      ['an expired interaction', async () => fetch(`${server.issuer}/interaction/unknown`)],
      ['an authorization error page', async () => fetch(`${server.issuer}/auth?client_id=nobody`)],
      ['the sign-out page', async () => fetch(`${server.issuer}/session/end`)],
    ])('%s: no-store, nosniff, DENY framing, no referrer', async (_name, load) => {
      const response = await load();
      expect(response.headers.get('cache-control')).toMatch(/no-store/);
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('x-frame-options')).toBe('DENY');
      expect(response.headers.get('referrer-policy')).toBe('no-referrer');
      expect(response.headers.get('cross-origin-opener-policy')).toBe('same-origin');
      expect(response.headers.get('strict-transport-security')).toBeNull(); // http issuer: no HSTS
    });

    it.each([
      ['JWKS', () => fetch(`${server.issuer}/jwks`)],
      ['discovery', () => fetch(`${server.issuer}/.well-known/openid-configuration`)],
      ['a refused token request', () => fetch(`${server.issuer}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' })],
    ])('%s (JSON, straight to oidc-provider): nosniff, no referrer, a request id', async (_name, load) => {
      const response = await load();
      expect(response.headers.get('content-type')).toMatch(/json/);
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('referrer-policy')).toBe('no-referrer');
      expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      expect(response.headers.get('strict-transport-security')).toBeNull(); // http issuer: no HSTS
    });

    it('completes a normal sign-in with all of that in place', async () => {
      const { ua, page } = await loginPage();
      const consent = await submitLogin(ua, server.issuer, page);
      const response = await ua.post(new URL(formAction(consent.html, '/consent'), server.issuer).href, { decision: 'approve', csrf: inputValue(consent.html, 'csrf') });
      const { url } = await ua.follow(consent.url, server.issuer, response);
      expect(codeOf(url)).toBeTruthy();
    });
  });
});
