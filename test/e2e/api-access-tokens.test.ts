import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { removeApi } from '../../src/admin/apis.ts';
import { startTestServer, type TestServer } from '../support/app.ts';
import { UserAgent } from '../support/browserless.ts';
import { gatehouseOk } from '../support/cli.ts';
import { buildAuthorization, codeFlowWithConsent, REDIRECT_URI, stacks, type StackEnv } from '../support/e2e.ts';
import { openLoginPage, rawAuthorization, submit } from '../support/forms.ts';

const EMAIL = 'grace@example.com';
const PASSWORD = 'correct horse battery staple';
const SECRET = 'api-rp-secret-with-more-than-32-characters';
const POSTS = 'https://api.example.test';
const OTHER = 'https://other.example.test';
const FILES = 'https://files.example.test';

/**
 * APIs (resource servers, issue 11): RFC 8707 `resource` on the authorization and token requests, RFC 9068
 * JWT access tokens a resource server verifies with jose from /jwks alone, opaque ones described by
 * introspection, and client_credentials limited to the scopes the client was given. APIs and clients are
 * made with the real CLI; openid-client plays the relying party. Embedded store and Postgres + Redis.
 */
describe.each(stacks)('API access tokens on the $name', (stack) => {
  let stackEnv: StackEnv;
  let server: TestServer;
  let rp: oidc.Configuration;
  let service: oidc.Configuration;
  let loner: oidc.Configuration;
  let firstParty: oidc.Configuration;
  let stranger: oidc.Configuration;
  let filesServer: oidc.Configuration;
  let postsServer: oidc.Configuration;
  let jwks: ReturnType<typeof createRemoteJWKSet>;

  beforeAll(async () => {
    stackEnv = await stack.setup();
    const env = stackEnv.env;
    await gatehouseOk(['api', 'add', '--id', POSTS, '--name', 'Posts API', '--scope', 'posts:read Read your posts', '--scope', 'posts:write Publish posts as you', '--ttl', '600'], env);
    await gatehouseOk(['api', 'add', '--id', OTHER, '--name', 'Other API', '--scope', 'other:read'], env);
    await gatehouseOk(['api', 'add', '--id', FILES, '--name', 'Files API', '--scope', 'files:read See your files', '--format', 'opaque'], env);
    await gatehouseOk(['client', 'add', '--id', 'web-app', '--secret', SECRET, '--redirect-uri', REDIRECT_URI, '--name', 'Web App',
      '--scope', 'openid email profile offline_access', '--api', POSTS, '--api', OTHER, '--api', FILES], env);
    await gatehouseOk(['client', 'add', '--id', 'stranger', '--secret', `${SECRET}-x`, '--redirect-uri', REDIRECT_URI], env);
    await gatehouseOk(['client', 'add', '--id', 'service', '--secret', `${SECRET}-svc`, '--grant-types', 'client_credentials',
      '--scope', 'posts:read', '--api', POSTS], env);
    await gatehouseOk(['client', 'add', '--id', 'first', '--secret', `${SECRET}-1st`, '--redirect-uri', REDIRECT_URI, '--first-party', '--api', POSTS], env);
    await gatehouseOk(['client', 'add', '--id', 'loner', '--secret', `${SECRET}-lone`, '--grant-types', 'client_credentials'], env);
    // The resource servers of the Files and Posts APIs: each may introspect its own API's tokens (AS-11).
    await gatehouseOk(['client', 'add', '--id', 'files-rs', '--secret', `${SECRET}-frs`, '--grant-types', 'client_credentials', '--introspects', FILES], env);
    await gatehouseOk(['client', 'add', '--id', 'posts-rs', '--secret', `${SECRET}-prs`, '--grant-types', 'client_credentials', '--introspects', POSTS], env);
    await gatehouseOk(['user', 'add', '--email', EMAIL, '--email-verified', '--password-stdin'], env, `${PASSWORD}\n`);
    // The APIs check users' permissions (RBAC, on by default): grace may use every scope asked for here.
    await gatehouseOk(['role', 'add', 'author', '--permission', 'posts:read', '--permission', 'posts:write', '--permission', 'other:read', '--permission', 'files:read'], env);
    await gatehouseOk(['user', 'grant', '--email', EMAIL, '--role', 'author'], env);
    server = await startTestServer(env);
    const insecure = { execute: [oidc.allowInsecureRequests] };
    rp = await oidc.discovery(new URL(server.issuer), 'web-app', undefined, oidc.ClientSecretBasic(SECRET), insecure);
    service = await oidc.discovery(new URL(server.issuer), 'service', undefined, oidc.ClientSecretBasic(`${SECRET}-svc`), insecure);
    firstParty = await oidc.discovery(new URL(server.issuer), 'first', undefined, oidc.ClientSecretBasic(`${SECRET}-1st`), insecure);
    loner = await oidc.discovery(new URL(server.issuer), 'loner', undefined, oidc.ClientSecretBasic(`${SECRET}-lone`), insecure);
    stranger = await oidc.discovery(new URL(server.issuer), 'stranger', undefined, oidc.ClientSecretBasic(`${SECRET}-x`), insecure);
    filesServer = await oidc.discovery(new URL(server.issuer), 'files-rs', undefined, oidc.ClientSecretBasic(`${SECRET}-frs`), insecure);
    postsServer = await oidc.discovery(new URL(server.issuer), 'posts-rs', undefined, oidc.ClientSecretBasic(`${SECRET}-prs`), insecure);
    jwks = createRemoteJWKSet(new URL(rp.serverMetadata().jwks_uri!));
  });

  afterAll(async () => {
    await server?.close();
    await stackEnv?.cleanup();
  });

  const codeFlow = (extra: Record<string, string>) => codeFlowWithConsent(rp, server.issuer, EMAIL, PASSWORD, extra);

  it('issues an RFC 9068 JWT access token for the API that jose verifies from /jwks alone', async () => {
    const { tokens, consent } = await codeFlow({ resource: POSTS, scope: 'openid posts:read' });
    // The consent page says what the API scope allows, in the operator's words.
    expect(consent).toContain('Posts API: Read your posts');
    expect(consent).not.toContain('Publish posts as you');

    expect(decodeProtectedHeader(tokens.access_token)).toMatchObject({ typ: 'at+jwt', alg: 'RS256' });
    const { payload } = await jwtVerify(tokens.access_token, jwks, { issuer: server.issuer, audience: POSTS, typ: 'at+jwt' });
    expect(payload).toMatchObject({ aud: POSTS, client_id: 'web-app', scope: 'posts:read', sub: tokens.claims()!.sub });
    expect(typeof payload.jti).toBe('string');
    expect(payload.exp! - payload.iat!).toBe(600);
    expect(tokens.expires_in).toBe(600);
    expect(tokens.scope).toBe('posts:read');
  });

  it('refuses a tampered token, and a token for one API at another', async () => {
    const { tokens } = await codeFlow({ resource: POSTS, scope: 'openid posts:read posts:write' });
    const [header, payload, signature] = tokens.access_token.split('.') as [string, string, string];
    const widened = Buffer.from(JSON.stringify({ ...decodeJwt(tokens.access_token), scope: 'posts:read posts:write admin' })).toString('base64url');
    await expect(jwtVerify(`${header}.${widened}.${signature}`, jwks, { issuer: server.issuer, audience: POSTS })).rejects.toMatchObject({
      code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
    });
    const flipped = `${signature.slice(0, -2)}${signature.endsWith('AA') ? 'BB' : 'AA'}`;
    await expect(jwtVerify(`${header}.${payload}.${flipped}`, jwks, { issuer: server.issuer, audience: POSTS })).rejects.toThrow();
    // The same token at another API: the aud check fails.
    await expect(jwtVerify(tokens.access_token, jwks, { issuer: server.issuer, audience: OTHER })).rejects.toMatchObject({
      code: 'ERR_JWT_CLAIM_VALIDATION_FAILED',
      claim: 'aud',
    });
    expect(decodeJwt(tokens.access_token).scope).toBe('posts:read posts:write');
  });

  it('answers invalid_target for an unknown resource and for an API the client was not allowed', async () => {
    const redirectError = async (clientId: string, resource: string) => {
      const { url } = rawAuthorization(server.issuer, { client_id: clientId, redirect_uri: REDIRECT_URI, resource, scope: 'openid posts:read' });
      const response = await fetch(url, { redirect: 'manual' });
      return new URL(response.headers.get('location')!).searchParams.get('error');
    };
    expect(await redirectError('web-app', 'https://unknown.example.test')).toBe('invalid_target');
    expect(await redirectError('stranger', POSTS)).toBe('invalid_target');
    // Not a URI, or one with a fragment (RFC 8707 §2).
    expect(await redirectError('web-app', 'not a uri')).toBe('invalid_target');
    expect(await redirectError('web-app', `${POSTS}#frag`)).toBe('invalid_target');
    await expect(oidc.clientCredentialsGrant(loner, { resource: POSTS })).rejects.toMatchObject({ error: 'invalid_target' });
    await expect(oidc.clientCredentialsGrant(service, { resource: OTHER, scope: 'other:read' })).rejects.toMatchObject({ error: 'invalid_target' });
    await expect(oidc.clientCredentialsGrant(service, { resource: 'https://unknown.example.test' })).rejects.toMatchObject({ error: 'invalid_target' });
  });

  it('gives an opaque token for an opaque API, which introspection describes with its aud', async () => {
    const { tokens } = await codeFlow({ resource: FILES, scope: 'openid files:read' });
    expect(tokens.access_token.split('.')).toHaveLength(1);
    const introspected = await oidc.tokenIntrospection(rp, tokens.access_token);
    expect(introspected).toMatchObject({ active: true, aud: FILES, client_id: 'web-app', scope: 'files:read', sub: tokens.claims()!.sub });
  });

  it('AS-11: answers introspection for the owning client and the API\'s registered resource server only', async () => {
    const { tokens } = await codeFlow({ resource: FILES, scope: 'openid files:read' });
    const described = { active: true, aud: FILES, client_id: 'web-app', scope: 'files:read', sub: tokens.claims()!.sub };
    expect(await oidc.tokenIntrospection(rp, tokens.access_token)).toMatchObject(described);
    expect(await oidc.tokenIntrospection(filesServer, tokens.access_token)).toMatchObject(described);
    // Another confidential client, and the resource server of another API, learn nothing: RFC 7662 §2.2's
    // answer for a token they may not see is the same as for an unknown one.
    expect(await oidc.tokenIntrospection(stranger, tokens.access_token)).toEqual({ active: false });
    expect(await oidc.tokenIntrospection(postsServer, tokens.access_token)).toEqual({ active: false });
    expect(await oidc.tokenIntrospection(loner, tokens.access_token)).toEqual({ active: false });

    // A token without an audience (for userinfo): its own client only, no resource server.
    const plain = await codeFlow({ scope: 'openid email' });
    expect(await oidc.tokenIntrospection(rp, plain.tokens.access_token)).toMatchObject({ active: true, client_id: 'web-app' });
    expect(await oidc.tokenIntrospection(filesServer, plain.tokens.access_token)).toEqual({ active: false });
    expect(await oidc.tokenIntrospection(stranger, plain.tokens.access_token)).toEqual({ active: false });
  });

  it('keeps the API as the audience of refreshed access tokens', async () => {
    const { tokens } = await codeFlow({ resource: POSTS, scope: 'openid offline_access posts:read', prompt: 'consent' });
    expect(tokens.refresh_token).toBeDefined();
    const refreshed = await oidc.refreshTokenGrant(rp, tokens.refresh_token!);
    const { payload } = await jwtVerify(refreshed.access_token, jwks, { issuer: server.issuer, audience: POSTS, typ: 'at+jwt' });
    expect(payload.scope).toBe('posts:read');
  });

  it('gives a client_credentials client a JWT for the API with only the scopes its --scope names', async () => {
    const tokens = await oidc.clientCredentialsGrant(service, { resource: POSTS, scope: 'posts:read posts:write' });
    const { payload } = await jwtVerify(tokens.access_token, jwks, { issuer: server.issuer, audience: POSTS, typ: 'at+jwt' });
    expect(payload).toMatchObject({ aud: POSTS, client_id: 'service', sub: 'service', scope: 'posts:read' });
    expect(tokens.scope).toBe('posts:read');
    const only = await oidc.clientCredentialsGrant(service, { resource: POSTS, scope: 'posts:write' });
    expect(decodeJwt(only.access_token).scope).toBeUndefined();
  });

  it('grants a first-party client the API scopes it asked for without a consent page', async () => {
    const ua = new UserAgent();
    const auth = await buildAuthorization(firstParty, { resource: POSTS, scope: 'openid posts:read' });
    const page = await openLoginPage(ua, server.issuer, auth.url.href);
    const signedIn = await submit(ua, page.login, { email: EMAIL, password: PASSWORD });
    const { url } = await ua.follow(page.url, server.issuer, signedIn);
    expect(url.startsWith(REDIRECT_URI)).toBe(true);
    const tokens = await oidc.authorizationCodeGrant(firstParty, new URL(url), { pkceCodeVerifier: auth.verifier, expectedState: auth.state, expectedNonce: auth.nonce });
    const { payload } = await jwtVerify(tokens.access_token, jwks, { issuer: server.issuer, audience: POSTS, typ: 'at+jwt' });
    expect(payload).toMatchObject({ client_id: 'first', scope: 'posts:read' });
  });

  it('refuses an API at once after `api remove` took it off the client', async () => {
    expect((await oidc.clientCredentialsGrant(service, { resource: POSTS, scope: 'posts:read' })).access_token).toBeTruthy();
    await removeApi(server.app.db, POSTS);
    await expect(oidc.clientCredentialsGrant(service, { resource: POSTS, scope: 'posts:read' })).rejects.toMatchObject({ error: 'invalid_target' });
  });

  it('keeps discovery to what the provider serves: the OIDC scopes, no API scopes', () => {
    const metadata = rp.serverMetadata();
    expect(metadata.scopes_supported).toEqual(expect.arrayContaining(['openid', 'email', 'profile', 'offline_access']));
    expect(metadata.scopes_supported).not.toContain('posts:read');
    expect(metadata.jwks_uri).toBe(`${server.issuer}/jwks`);
  });
});
