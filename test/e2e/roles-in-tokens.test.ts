import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import { auth, requiredScopes } from 'express-oauth2-jwt-bearer';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { updateApi } from '../../src/admin/apis.ts';
import { grantRole, removeRole, revokeRole } from '../../src/admin/roles.ts';
import { API_CACHE_SECONDS } from '../../src/oidc/resource-servers.ts';
import { startTestServer, type TestServer } from '../support/app.ts';
import { gatehouseOk } from '../support/cli.ts';
import { codeFlowWithConsent, REDIRECT_URI, stacks, type StackEnv } from '../support/e2e.ts';

const PASSWORD = 'correct horse battery staple';
const MOD = 'mod@example.com';
const PLAIN = 'plain@example.com';
const LATER = 'later@example.com';
const SECRET = 'roles-rp-secret-with-more-than-32-characters';
const POSTS = 'https://posts.example.test';
const OPEN = 'https://open.example.test';
const FILES = 'https://files.example.test';
const NOTES = 'https://notes.example.test';
const ROLES_CLAIMS = JSON.stringify({ id_token: { roles: null, permissions: null } });

/**
 * Roles and permissions in tokens (issue 11): the `roles` scope releases `roles` and `permissions` (global
 * roles and the asking client's own only) in the ID token and at userinfo; an API with
 * RBAC gives users' tokens only the scopes their permissions name, checked by a real resource-server
 * library (express-oauth2-jwt-bearer); a revoked role is gone at the next userinfo call and refresh.
 * Everything set up with the real CLI; openid-client plays the relying parties.
 */
describe.each(stacks)('roles and permissions in tokens on the $name', (stack) => {
  let stackEnv: StackEnv;
  let server: TestServer;
  let forum: oidc.Configuration;
  let shop: oidc.Configuration;
  let jwks: ReturnType<typeof createRemoteJWKSet>;
  let resourceServer: Server;
  let postsApi: string;
  /** Added to the server's clock: moves it past the API lookup cache without waiting. */
  let clockOffset = 0;

  beforeAll(async () => {
    stackEnv = await stack.setup();
    const env = stackEnv.env;
    await gatehouseOk(['api', 'add', '--id', POSTS, '--name', 'Posts API', '--scope', 'posts:read Read posts', '--scope', 'posts:delete Delete any post'], env);
    await gatehouseOk(['api', 'add', '--id', OPEN, '--name', 'Open API', '--scope', 'open:read', '--scope', 'open:write', '--no-rbac'], env);
    await gatehouseOk(['api', 'add', '--id', FILES, '--name', 'Files API', '--scope', 'files:read', '--scope', 'files:delete', '--format', 'opaque'], env);
    await gatehouseOk(['api', 'add', '--id', NOTES, '--name', 'Notes API', '--scope', 'notes:read', '--scope', 'notes:write'], env);
    for (const id of ['forum', 'shop']) {
      await gatehouseOk(['client', 'add', '--id', id, '--secret', `${SECRET}-${id}`, '--redirect-uri', REDIRECT_URI, '--name', id,
        '--scope', 'openid email offline_access roles', '--api', POSTS, '--api', OPEN, '--api', FILES, '--api', NOTES], env);
    }
    await gatehouseOk(['role', 'add', 'moderator', '--permission', 'posts:read', '--permission', 'posts:delete', '--permission', 'files:read', '--permission', 'files:delete'], env);
    await gatehouseOk(['role', 'add', 'reader', '--permission', 'posts:read', '--permission', 'files:read'], env);
    await gatehouseOk(['role', 'add', 'forum-admin', '--client', 'forum', '--permission', 'threads:lock'], env);
    await gatehouseOk(['role', 'add', 'buyer', '--client', 'shop', '--permission', 'orders:create'], env);
    // A shop-only role whose permission names a Posts API scope: it must not widen the forum's tokens.
    await gatehouseOk(['role', 'add', 'shop-cleaner', '--client', 'shop', '--permission', 'posts:delete'], env);
    for (const email of [MOD, PLAIN, LATER]) await gatehouseOk(['user', 'add', '--email', email, '--email-verified', '--password-stdin'], env, `${PASSWORD}\n`);
    for (const [email, role, client] of [[MOD, 'moderator'], [MOD, 'forum-admin', 'forum'], [MOD, 'buyer', 'shop'], [PLAIN, 'reader'], [PLAIN, 'shop-cleaner', 'shop'], [LATER, 'moderator']]) {
      await gatehouseOk(['user', 'grant', '--email', email!, '--role', role!, ...(client ? ['--client', client] : [])], env);
    }
    server = await startTestServer(env, { clock: () => Date.now() + clockOffset });
    const insecure = { execute: [oidc.allowInsecureRequests] };
    forum = await oidc.discovery(new URL(server.issuer), 'forum', undefined, oidc.ClientSecretBasic(`${SECRET}-forum`), insecure);
    shop = await oidc.discovery(new URL(server.issuer), 'shop', undefined, oidc.ClientSecretBasic(`${SECRET}-shop`), insecure);
    jwks = createRemoteJWKSet(new URL(forum.serverMetadata().jwks_uri!));

    // The Posts API as a resource server would write it: Auth0's express-oauth2-jwt-bearer, keys from /jwks.
    const app = express();
    const checkJwt = auth({ issuer: server.issuer, jwksUri: `${server.issuer}/jwks`, audience: POSTS, tokenSigningAlg: 'RS256' });
    app.delete('/posts/1', checkJwt, requiredScopes('posts:delete'), (_req, res) => {
      res.json({ deleted: true });
    });
    await new Promise<void>((resolve) => {
      resourceServer = app.listen(0, '127.0.0.1', () => resolve());
    });
    postsApi = `http://127.0.0.1:${(resourceServer.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => resourceServer?.close(resolve));
    await server?.close();
    await stackEnv?.cleanup();
  });

  const codeFlow = (rp: oidc.Configuration, email: string, extra: Record<string, string>) => codeFlowWithConsent(rp, server.issuer, email, PASSWORD, extra);

  const deletePost = (token: string) => fetch(`${postsApi}/posts/1`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });

  it('lists the roles scope and its claims in discovery', () => {
    const metadata = forum.serverMetadata();
    expect(metadata.scopes_supported).toContain('roles');
    expect(metadata.claims_supported).toEqual(expect.arrayContaining(['roles', 'permissions']));
  });

  it('releases global roles and the client\'s own at userinfo, never another client\'s, and says so on the consent page', async () => {
    const { tokens, consent } = await codeFlow(forum, MOD, { scope: 'openid email roles' });
    expect(consent).toContain('See your roles and the permissions they give you');
    const sub = tokens.claims()!.sub;
    expect(await oidc.fetchUserInfo(forum, tokens.access_token, sub)).toMatchObject({
      roles: ['forum-admin', 'moderator'],
      permissions: ['files:delete', 'files:read', 'posts:delete', 'posts:read', 'threads:lock'],
    });
    const atShop = await codeFlow(shop, MOD, { scope: 'openid roles' });
    const shopInfo = await oidc.fetchUserInfo(shop, atShop.tokens.access_token, sub);
    expect(shopInfo.roles).toEqual(['buyer', 'moderator']);
    expect(shopInfo.permissions).toEqual(['files:delete', 'files:read', 'orders:create', 'posts:delete', 'posts:read']);
    // The ID token carries them too (the code flow keeps the email scope's claims for userinfo).
    expect(tokens.claims()).toMatchObject({ roles: ['forum-admin', 'moderator'], permissions: ['files:delete', 'files:read', 'posts:delete', 'posts:read', 'threads:lock'] });
    expect(tokens.claims()!['email']).toBeUndefined();
    expect(atShop.tokens.claims()).toMatchObject({ roles: ['buyer', 'moderator'] });
  });

  it('puts roles and permissions in the ID token when the claims parameter asks, and only with the roles scope', async () => {
    const { tokens } = await codeFlow(forum, MOD, { scope: 'openid roles', claims: ROLES_CLAIMS });
    expect(tokens.claims()).toMatchObject({ roles: ['forum-admin', 'moderator'], permissions: expect.arrayContaining(['threads:lock', 'posts:delete']) });
    const without = await codeFlow(forum, MOD, { scope: 'openid email', claims: ROLES_CLAIMS });
    expect(without.tokens.claims()!['roles']).toBeUndefined();
    expect(without.tokens.claims()!['permissions']).toBeUndefined();
    const info = await oidc.fetchUserInfo(forum, without.tokens.access_token, without.tokens.claims()!.sub);
    expect(info['roles']).toBeUndefined();
    expect(info['permissions']).toBeUndefined();
  });

  it('gives a moderator posts:delete, which express-oauth2-jwt-bearer requiredScopes lets through', async () => {
    const { tokens } = await codeFlow(forum, MOD, { resource: POSTS, scope: 'openid posts:read posts:delete' });
    const { payload } = await jwtVerify(tokens.access_token, jwks, { issuer: server.issuer, audience: POSTS, typ: 'at+jwt' });
    expect(payload.scope).toBe('posts:read posts:delete');
    const response = await deletePost(tokens.access_token);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ deleted: true });
  });

  it('signs in a user without the permission, whose token lacks the scope and gets 403; a tampered token 401, another API\'s 401', async () => {
    const { tokens } = await codeFlow(forum, PLAIN, { resource: POSTS, scope: 'openid posts:read posts:delete' });
    // PLAIN's shop-only role names posts:delete, but that role is the shop's: the forum's token lacks it.
    const { payload } = await jwtVerify(tokens.access_token, jwks, { issuer: server.issuer, audience: POSTS, typ: 'at+jwt' });
    expect(payload.scope).toBe('posts:read');
    expect(tokens.scope).toBe('posts:read');
    const forbidden = await deletePost(tokens.access_token);
    expect(forbidden.status).toBe(403);
    expect(forbidden.headers.get('www-authenticate')).toContain('insufficient_scope');

    const [header, , signature] = tokens.access_token.split('.') as [string, string, string];
    const widened = Buffer.from(JSON.stringify({ ...decodeJwt(tokens.access_token), scope: 'posts:read posts:delete' })).toString('base64url');
    expect((await deletePost(`${header}.${widened}.${signature}`)).status).toBe(401);

    const other = await codeFlow(forum, MOD, { resource: OPEN, scope: 'openid open:write' });
    expect(decodeJwt(other.tokens.access_token).aud).toBe(OPEN);
    const wrongAudience = await deletePost(other.tokens.access_token);
    expect(wrongAudience.status).toBe(401);
    expect(wrongAudience.headers.get('www-authenticate')).toContain('invalid_token');

    // At the shop, the same user's shop role gives the scope.
    const atShop = await codeFlow(shop, PLAIN, { resource: POSTS, scope: 'openid posts:delete' });
    expect(decodeJwt(atShop.tokens.access_token).scope).toBe('posts:delete');
    expect((await deletePost(atShop.tokens.access_token)).status).toBe(200);
  });

  it('gives the requested scopes of an API with --no-rbac whatever the permissions', async () => {
    const { tokens } = await codeFlow(forum, PLAIN, { resource: OPEN, scope: 'openid open:read open:write' });
    const { payload } = await jwtVerify(tokens.access_token, jwks, { issuer: server.issuer, audience: OPEN, typ: 'at+jwt' });
    expect(payload.scope).toBe('open:read open:write');
  });

  it('describes the same RBAC-limited scope at introspection for an opaque API token', async () => {
    const plain = await codeFlow(forum, PLAIN, { resource: FILES, scope: 'openid files:read files:delete' });
    expect(await oidc.tokenIntrospection(forum, plain.tokens.access_token)).toMatchObject({ active: true, aud: FILES, scope: 'files:read' });
    const mod = await codeFlow(forum, MOD, { resource: FILES, scope: 'openid files:read files:delete' });
    expect(await oidc.tokenIntrospection(forum, mod.tokens.access_token)).toMatchObject({ active: true, aud: FILES, scope: 'files:read files:delete' });
  });

  it('gives the scopes whatever the permissions after api update --no-rbac, once the running server\'s API cache expires', async () => {
    // PLAIN has no notes permission: with RBAC on (the default) the token carries no Notes scope.
    const { tokens } = await codeFlow(forum, PLAIN, { resource: NOTES, scope: 'openid offline_access notes:read notes:write', prompt: 'consent' });
    expect(decodeJwt(tokens.access_token).scope).toBeUndefined();
    await updateApi(server.app.db, NOTES, { rbac: false });
    // Within the cache window the running server still uses what it read (the README says so) ...
    const cached = await oidc.refreshTokenGrant(forum, tokens.refresh_token!);
    expect(decodeJwt(cached.access_token).scope).toBeUndefined();
    clockOffset = (API_CACHE_SECONDS + 1) * 1000;
    try {
      // ... and after it the next token carries the requested scopes.
      const fresh = await oidc.refreshTokenGrant(forum, cached.refresh_token ?? tokens.refresh_token!);
      expect(decodeJwt(fresh.access_token)).toMatchObject({ aud: NOTES, scope: 'notes:read notes:write' });
    } finally {
      clockOffset = 0;
    }
  });

  it('drops a revoked or removed role at the next userinfo call and refresh, without a new sign-in', async () => {
    const { tokens } = await codeFlow(forum, LATER, { scope: 'openid roles offline_access', claims: ROLES_CLAIMS, prompt: 'consent' });
    const api = await codeFlow(forum, LATER, { resource: POSTS, scope: 'openid offline_access posts:delete', prompt: 'consent' });
    const sub = tokens.claims()!.sub;
    expect(tokens.claims()!['roles']).toEqual(['moderator']);
    expect(decodeJwt(api.tokens.access_token).scope).toBe('posts:delete');

    await revokeRole(server.app.db, LATER, 'moderator', null);
    // The access token issued before the revoke: userinfo reads the roles afresh.
    expect(await oidc.fetchUserInfo(forum, tokens.access_token, sub)).toMatchObject({ roles: [], permissions: [] });
    const refreshed = await oidc.refreshTokenGrant(forum, tokens.refresh_token!);
    expect(refreshed.claims()).toMatchObject({ roles: [], permissions: [] });
    const apiRefreshed = await oidc.refreshTokenGrant(forum, api.tokens.refresh_token!);
    expect(decodeJwt(apiRefreshed.access_token).scope).toBeUndefined();
    expect((await deletePost(apiRefreshed.access_token)).status).toBe(403);

    // Granted again: the next refresh carries the scope once more (the grant kept what was consented to).
    await grantRole(server.app.db, LATER, 'moderator', null);
    const regained = await oidc.refreshTokenGrant(forum, apiRefreshed.refresh_token ?? api.tokens.refresh_token!);
    expect(decodeJwt(regained.access_token).scope).toBe('posts:delete');

    // Removing the role itself (the last test here: others use moderator) works the same way.
    await removeRole(server.app.db, 'moderator', null);
    const afterRemoval = await oidc.refreshTokenGrant(forum, regained.refresh_token ?? api.tokens.refresh_token!);
    expect(decodeJwt(afterRemoval.access_token).scope).toBeUndefined();
  });
});
