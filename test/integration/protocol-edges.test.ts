import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createAccount } from '../../src/accounts/create-account.ts';
import { upsertClient } from '../../src/storage/postgres/clients.queries.ts';
import type { TestServer } from '../support/app.ts';
import { databaseBackends } from '../support/backends.ts';
import { UserAgent } from '../support/browserless.ts';
import { findForm, openLoginPage, rawAuthorization, signInThroughForms, startOnBackend, submit } from '../support/forms.ts';

const WEB_REDIRECT = 'https://rp.example/cb';
const NATIVE_REDIRECT = 'http://127.0.0.1/cb';
const EMAIL = 'edges@example.com';
const PASSWORD = 'protocol edges password';

/**
 * Redirect URIs that differ from the registered `https://rp.example/cb` in some way a lax comparison
 * (case folding, default port, percent-decoding, dot segments, prefix or host-suffix match) would accept.
 */
const NOT_REGISTERED_FOR_WEB = [
  ['trailing slash', 'https://rp.example/cb/'],
  ['scheme and host case', 'HTTPS://RP.EXAMPLE/cb'],
  ['default port spelled out', 'https://rp.example:443/cb'],
  ['percent-encoded path character', 'https://rp.example/%63b'],
  ['percent-encoded slash', 'https://rp.example/cb%2F'],
  ['dot segments', 'https://rp.example/cb/../cb'],
  ['path parameter', 'https://rp.example/cb;x'],
  ['..; traversal', 'https://rp.example/cb/..;/cb'],
  ['query added', 'https://rp.example/cb?x=1'],
  ['fragment added', 'https://rp.example/cb#frag'],
  ['registered host as a prefix of another host', 'https://rp.example.evil.com/cb'],
  ['userinfo', 'https://evil@rp.example/cb'],
  ['double @ userinfo', 'https://a@@rp.example/cb'],
  ['loopback with a port, for a web client', 'http://127.0.0.1:51234/cb'],
] as const;

/** The loopback port exception belongs to native clients, and it is about the port only. */
const NOT_REGISTERED_FOR_NATIVE = [
  ['loopback path with trailing slash', 'http://127.0.0.1:51234/cb/'],
  ['localhost instead of the registered 127.0.0.1', 'http://localhost:51234/cb'],
  ['https instead of http', 'https://127.0.0.1:51234/cb'],
] as const;

describe.each(databaseBackends)('authorization endpoint edges on $name', (backend) => {
  let server: TestServer;
  let stop: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    ({ server, stop } = await startOnBackend(backend));
    await upsertClient(server.app.db, 'web', {
      client_id: 'web', client_secret: 'web-secret-0123456789-0123456789-0123', redirect_uris: [WEB_REDIRECT],
      grant_types: ['authorization_code'], response_types: ['code'],
    });
    await upsertClient(server.app.db, 'native', {
      client_id: 'native', application_type: 'native', token_endpoint_auth_method: 'none', redirect_uris: [NATIVE_REDIRECT],
      grant_types: ['authorization_code'], response_types: ['code'],
    });
    await createAccount(server.app.db, server.app.hasher, { email: EMAIL, password: PASSWORD });
  });

  afterAll(async () => {
    await stop?.();
  });

  /** The OP's answer to an authorization request, without following anything. */
  function authorize(params: Record<string, string>): Promise<Response> {
    return fetch(rawAuthorization(server.issuer, params).url, { redirect: 'manual', headers: { accept: 'text/html' } });
  }

  /** A 400 HTML error page rendered by the OP for `code`, with nothing that sends the browser on. */
  async function expectErrorPageAtOp(response: Response, code: string): Promise<string> {
    expect({ status: response.status, location: response.headers.get('location') }).toEqual({ status: 400, location: null });
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    const page = await response.text();
    expect(page).toContain('The sign-in request could not be completed');
    expect(page).toContain(`<code>${code}</code>`);
    expect(page).not.toMatch(/http-equiv="refresh"/i);
    return page;
  }

  // AS-01: the exact registered URIs are accepted (so the refusals below are about the URI, nothing else).
  it('accepts the exact registered redirect URIs, and any loopback port for the native client', async () => {
    for (const [client_id, redirect_uri] of [['web', WEB_REDIRECT], ['native', NATIVE_REDIRECT], ['native', 'http://127.0.0.1:51234/cb']]) {
      const response = await authorize({ client_id: client_id!, redirect_uri: redirect_uri! });
      expect({ redirect_uri, status: response.status }).toEqual({ redirect_uri, status: 303 });
      expect(new URL(response.headers.get('location')!, server.issuer).pathname).toMatch(/^\/interaction\//);
    }
  });

  // AS-01: exact string match; each near miss is an error page at the OP, never a redirect.
  it.each(NOT_REGISTERED_FOR_WEB)('web client: refuses %s (%s) without redirecting', async (_label, redirectUri) => {
    await expectErrorPageAtOp(await authorize({ client_id: 'web', redirect_uri: redirectUri }), 'invalid_redirect_uri');
  });

  // AS-01: the native loopback exception ignores the port and nothing else.
  it.each(NOT_REGISTERED_FOR_NATIVE)('native client: refuses %s (%s) without redirecting', async (_label, redirectUri) => {
    await expectErrorPageAtOp(await authorize({ client_id: 'native', redirect_uri: redirectUri }), 'invalid_redirect_uri');
  });

  // AS-02: an unknown client is an error page at the OP, even with a redirect_uri to follow.
  it('shows an error page for an unknown client_id instead of redirecting to its redirect_uri', async () => {
    await expectErrorPageAtOp(await authorize({ client_id: 'no-such-client', redirect_uri: 'https://evil.example/cb' }), 'invalid_client');
  });

  // AS-02: a known client with a redirect_uri it never registered is an error page at the OP.
  it('shows an error page for a known client with an unregistered redirect_uri', async () => {
    await expectErrorPageAtOp(await authorize({ client_id: 'web', redirect_uri: 'https://evil.example/cb' }), 'invalid_redirect_uri');
  });

  // AS-08: the error response for a cancelled sign-in carries iss (RFC 9207).
  it('sends the user back with error=access_denied and iss when they cancel the sign-in', async () => {
    const ua = new UserAgent();
    const auth = rawAuthorization(server.issuer, { client_id: 'web', redirect_uri: WEB_REDIRECT });
    const page = await openLoginPage(ua, server.issuer, auth.url);
    const cancelled = await submit(ua, findForm(page.html, '/abort', server.issuer));
    expect(cancelled.status).toBe(303);
    const { url } = await ua.follow(page.url, server.issuer, cancelled);
    const landed = new URL(url);
    expect(landed.origin + landed.pathname).toBe(WEB_REDIRECT);
    expect(landed.searchParams.get('error')).toBe('access_denied');
    expect(landed.searchParams.get('state')).toBe(auth.state);
    expect(landed.searchParams.get('iss')).toBe(server.issuer);
  });

  // AS-08: an error response produced by the protocol itself (prompt=none, no session) carries iss.
  it('answers prompt=none without a session with error=login_required and iss', async () => {
    const auth = rawAuthorization(server.issuer, { client_id: 'web', redirect_uri: WEB_REDIRECT, prompt: 'none' });
    const { url } = await new UserAgent().follow(auth.url, server.issuer);
    const landed = new URL(url);
    expect(landed.origin + landed.pathname).toBe(WEB_REDIRECT);
    expect(landed.searchParams.get('error')).toBe('login_required');
    expect(landed.searchParams.get('state')).toBe(auth.state);
    expect(landed.searchParams.get('iss')).toBe(server.issuer);
  });

  // AS-08: the success response carries iss too.
  it('sends the code back with iss after a successful sign-in', async () => {
    const auth = rawAuthorization(server.issuer, { client_id: 'web', redirect_uri: WEB_REDIRECT });
    const landed = await signInThroughForms(new UserAgent(), server.issuer, auth.url, EMAIL, PASSWORD);
    expect(landed.origin + landed.pathname).toBe(WEB_REDIRECT);
    expect(landed.searchParams.get('code')).toBeTruthy();
    expect(landed.searchParams.get('state')).toBe(auth.state);
    expect(landed.searchParams.get('iss')).toBe(server.issuer);
  });

  // AS-08: discovery announces RFC 9207 and the issuer is exactly the configured URL (no trailing slash).
  it('publishes authorization_response_iss_parameter_supported and the exact issuer', async () => {
    const metadata = (await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(metadata.authorization_response_iss_parameter_supported).toBe(true);
    expect(metadata.issuer).toBe(server.issuer);
    expect(metadata.issuer).not.toMatch(/\/$/);
  });
});
