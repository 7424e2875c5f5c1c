import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { startTestServer, type TestServer } from '../support/app.ts';
import { UserAgent } from '../support/browserless.ts';
import { gatehouseOk } from '../support/cli.ts';
import { buildAuthorization, REDIRECT_URI, signIn, stacks, type StackEnv } from '../support/e2e.ts';

const EMAIL = 'Ada@Example.com';
const PASSWORD = 'correct horse battery staple';
const SECRET = 'rp-secret-with-dashes-and-more-than-32-chars';

/**
 * Every flow of the foundation, validated by openid-client 6 (a certified relying-party library), on the
 * embedded store and on real Postgres + Redis. The client and the user are made with the real CLI.
 */
describe.each(stacks)('OIDC flows with openid-client on the $name', (stack) => {
  let stackEnv: StackEnv;
  let server: TestServer;
  let rp: oidc.Configuration;
  let service: oidc.Configuration;
  /** A public client (no secret): its refresh tokens rotate. */
  let spa: oidc.Configuration;
  /**
   * The RP's back-channel logout endpoint: a real HTTP server that records the logout tokens it receives.
   * It listens on loopback, which oidc-provider's SSRF guard refuses in production; under jest's VM that
   * guard cannot find undici's dispatcher and stands down (it warns), which is what lets this test reach it.
   */
  let backchannel: Server;
  const logoutTokens: string[] = [];

  beforeAll(async () => {
    backchannel = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        logoutTokens.push(new URLSearchParams(body).get('logout_token') ?? '');
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => backchannel.listen(0, '127.0.0.1', resolve));
    const backchannelUri = `http://127.0.0.1:${(backchannel.address() as AddressInfo).port}/backchannel`;
    stackEnv = await stack.setup();
    const env = stackEnv.env;
    // The CLI runs before the server starts: on the embedded store they take turns holding its lock.
    await gatehouseOk(['client', 'add', '--id', 'web-app', '--secret', SECRET, '--redirect-uri', REDIRECT_URI,
      '--post-logout-redirect-uri', 'http://127.0.0.1:8080/bye', '--grant-types', 'authorization_code,refresh_token',
      '--scope', 'openid email profile offline_access', '--name', 'Web App', '--backchannel-logout-uri', backchannelUri], env);
    await gatehouseOk(['client', 'add', '--id', 'service', '--secret', `${SECRET}-svc`, '--grant-types', 'client_credentials'], env);
    await gatehouseOk(['client', 'add', '--id', 'spa-app', '--public', '--redirect-uri', REDIRECT_URI, '--grant-types', 'authorization_code,refresh_token',
      '--scope', 'openid email offline_access', '--name', 'Single-page App'], env);
    await gatehouseOk(['user', 'add', '--email', EMAIL, '--name', 'Ada Lovelace', '--email-verified', '--password-stdin'], env, `${PASSWORD}\n`);
    server = await startTestServer(env);
    const insecure = { execute: [oidc.allowInsecureRequests] };
    rp = await oidc.discovery(new URL(server.issuer), 'web-app', undefined, oidc.ClientSecretBasic(SECRET), insecure);
    service = await oidc.discovery(new URL(server.issuer), 'service', undefined, oidc.ClientSecretBasic(`${SECRET}-svc`), insecure);
    spa = await oidc.discovery(new URL(server.issuer), 'spa-app', undefined, oidc.None(), insecure);
  });

  /** Audit rows of `type` for the client (web-app by default) that match; protocol events are written just after the response. */
  async function auditEvents(type: 'token_reuse_detected' | 'sign_out' | 'consent_granted', match: (details: Record<string, unknown>) => boolean = () => true, clientId = 'web-app'): Promise<number> {
    for (let tries = 0; ; tries += 1) {
      const rows = await server.app.db.selectFrom('audit_events').select(['details', 'client_id']).where('type', '=', type).execute();
      const count = rows.filter((row) => row.client_id === clientId && match(row.details)).length;
      if (count > 0 || tries === 50) return count;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  const reuseEvents = (kind: string, clientId?: string) => auditEvents('token_reuse_detected', (details) => details.kind === kind, clientId);

  afterAll(async () => {
    await server?.close();
    await stackEnv?.cleanup();
    await new Promise((resolve) => backchannel?.close(resolve));
  });

  async function codeFlow(extra: Record<string, string> = {}, client = rp) {
    const ua = new UserAgent();
    const auth = await buildAuthorization(client, extra);
    const callback = await signIn(ua, server.issuer, auth.url, EMAIL, PASSWORD);
    const tokens = await oidc.authorizationCodeGrant(client, callback, {
      pkceCodeVerifier: auth.verifier,
      expectedState: auth.state,
      expectedNonce: auth.nonce,
      idTokenExpected: true,
    });
    return { ua, tokens, callback };
  }

  it('publishes discovery that matches the issuer exactly, with PKCE S256 only and code flow only', () => {
    const metadata = rp.serverMetadata();
    expect(metadata.issuer).toBe(server.issuer);
    expect(metadata.code_challenge_methods_supported).toEqual(['S256']);
    expect(metadata.response_types_supported).toEqual(['code']);
    expect(metadata.grant_types_supported).not.toContain('password');
    expect(metadata.grant_types_supported).not.toContain('implicit');
    expect(metadata.authorization_response_iss_parameter_supported).toBe(true);
    expect(metadata.backchannel_logout_supported).toBe(true);
    expect(metadata.end_session_endpoint).toBe(`${server.issuer}/session/end`);
  });

  it('completes code + PKCE + state + nonce with a validated ID token and RFC 9207 iss', async () => {
    const { tokens, callback } = await codeFlow();
    expect(callback.searchParams.get('iss')).toBe(server.issuer);
    const claims = tokens.claims()!;
    expect(claims.iss).toBe(server.issuer);
    expect([claims.aud].flat()).toContain('web-app');
    // Code flow: scope claims come from userinfo, not the ID token (OIDC Core §5.4, conformIdTokenClaims).
    expect(claims.email).toBeUndefined();
    const userinfo = await oidc.fetchUserInfo(rp, tokens.access_token, claims.sub);
    expect(userinfo).toMatchObject({ sub: claims.sub, email: EMAIL, email_verified: true, name: 'Ada Lovelace' });
  });

  it('refuses an authorization request without PKCE', async () => {
    const url = new URL(`${server.issuer}/auth`);
    url.search = new URLSearchParams({ client_id: 'web-app', response_type: 'code', scope: 'openid', redirect_uri: REDIRECT_URI, state: 's' }).toString();
    const response = await fetch(url, { redirect: 'manual' });
    const location = new URL(response.headers.get('location')!);
    expect(location.origin + location.pathname).toBe(REDIRECT_URI);
    expect(location.searchParams.get('error')).toBe('invalid_request');
    expect(location.searchParams.get('error_description')).toMatch(/PKCE/);
  });

  it('AS-07: rotates a public client\'s refresh tokens and revokes the grant when an old one is replayed', async () => {
    const { tokens } = await codeFlow({ scope: 'openid email offline_access', prompt: 'consent' }, spa);
    expect(tokens.refresh_token).toBeDefined();
    const rotated = await oidc.refreshTokenGrant(spa, tokens.refresh_token!);
    expect(rotated.refresh_token).toBeDefined();
    expect(rotated.refresh_token).not.toBe(tokens.refresh_token);
    await expect(oidc.refreshTokenGrant(spa, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    // Reuse detection revoked the whole grant: the newest refresh token and its access token die too.
    await expect(oidc.refreshTokenGrant(spa, rotated.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    // Asked by its own client: any other gets active:false anyway (AS-11), which would prove nothing here.
    expect((await oidc.tokenIntrospection(spa, rotated.access_token)).active).toBe(false);
    expect(await reuseEvents('refresh_token', 'spa-app')).toBeGreaterThanOrEqual(1);
  });

  it('AS-07: keeps a confidential client\'s refresh token across uses, so a retry after a lost response works', async () => {
    const { tokens } = await codeFlow({ scope: 'openid email offline_access', prompt: 'consent' });
    expect(tokens.refresh_token).toBeDefined();
    expect(await auditEvents('consent_granted', (details) => (details.scopes as string[]).includes('offline_access'))).toBeGreaterThanOrEqual(1);
    const first = await oidc.refreshTokenGrant(rp, tokens.refresh_token!);
    // No new refresh token: the one the client holds stays the one to use (bound to its authentication).
    expect(first.refresh_token === undefined || first.refresh_token === tokens.refresh_token).toBe(true);
    const again = await oidc.refreshTokenGrant(rp, tokens.refresh_token!);
    expect((await oidc.tokenIntrospection(rp, again.access_token)).active).toBe(true);
    expect((await oidc.tokenIntrospection(rp, first.access_token)).active).toBe(true);
  });

  it('issues client_credentials tokens that introspect as active, and revocation ends them', async () => {
    const tokens = await oidc.clientCredentialsGrant(service, {});
    const introspected = await oidc.tokenIntrospection(service, tokens.access_token);
    expect(introspected).toMatchObject({ active: true, client_id: 'service' });
    await oidc.tokenRevocation(service, tokens.access_token);
    expect((await oidc.tokenIntrospection(service, tokens.access_token)).active).toBe(false);
  });

  it('signs a second authorization in with no prompt (SSO) and ends the session by RP-initiated and back-channel logout', async () => {
    const { ua, tokens } = await codeFlow();
    const again = await buildAuthorization(rp);
    const { url } = await ua.follow(again.url.href, server.issuer);
    expect(new URL(url).searchParams.get('code')).toBeTruthy();

    const logout = oidc.buildEndSessionUrl(rp, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: 'http://127.0.0.1:8080/bye', state: 'bye' });
    const confirm = await ua.get(logout.href);
    const html = await confirm.text();
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(html)![1]!;
    const done = await ua.post(`${server.issuer}/session/end/confirm`, { xsrf, logout: 'yes' });
    const landed = new URL(done.headers.get('location')!);
    expect(landed.origin + landed.pathname).toBe('http://127.0.0.1:8080/bye');
    expect(landed.searchParams.get('state')).toBe('bye');
    expect(await auditEvents('sign_out')).toBe(1);

    // Back-channel logout: the RP received a logout token it can verify from JWKS alone.
    expect(logoutTokens).toHaveLength(1);
    const { payload } = await jwtVerify(logoutTokens[0]!, createRemoteJWKSet(new URL(rp.serverMetadata().jwks_uri!)), {
      issuer: server.issuer,
      audience: 'web-app',
      typ: 'logout+jwt',
    });
    expect(payload.sub).toBe(tokens.claims()!.sub);
    expect(payload.sid).toBe(tokens.claims()!.sid);
    expect(payload.events).toEqual({ 'http://schemas.openid.net/event/backchannel-logout': {} });
    expect(payload.nonce).toBeUndefined();

    const afterLogout = await buildAuthorization(rp, { prompt: 'none' });
    const { url: noneResult } = await ua.follow(afterLogout.url.href, server.issuer);
    expect(new URL(noneResult).searchParams.get('error')).toBe('login_required');
  });

  it('redeems one code exactly once under 10 parallel requests, and the replay revokes what it issued', async () => {
    const ua = new UserAgent();
    const auth = await buildAuthorization(rp);
    const callback = await signIn(ua, server.issuer, auth.url, EMAIL, PASSWORD);
    const code = callback.searchParams.get('code')!;
    const basic = `Basic ${Buffer.from(`web-app:${encodeURIComponent(SECRET)}`).toString('base64')}`;
    const attempts = await Promise.all(
      Array.from({ length: 10 }, () =>
        fetch(`${server.issuer}/token`, {
          method: 'POST',
          headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: auth.verifier }),
        }).then(async (response) => ({ status: response.status, body: (await response.json()) as Record<string, string> })),
      ),
    );
    const won = attempts.filter((attempt) => attempt.status === 200);
    expect(won).toHaveLength(1);
    expect(attempts.filter((attempt) => attempt.status === 400 && attempt.body.error === 'invalid_grant')).toHaveLength(9);
    expect((await oidc.tokenIntrospection(rp, won[0]!.body.access_token!)).active).toBe(false);
    // LOG-01: the replay is in the audit trail, for the operator to find the stolen code's client.
    expect(await reuseEvents('authorization_code')).toBeGreaterThanOrEqual(1);
  });
});
