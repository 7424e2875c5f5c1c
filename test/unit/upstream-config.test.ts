import { describe, expect, it } from '@jest/globals';
import type { Context } from 'koa';
import { loadConfig } from '../../src/config/load.ts';
import { ConfigError } from '../../src/errors.ts';
import { startUpstreamFlow } from '../../src/upstream/flow.ts';
import { createUpstreams, UpstreamUnavailableError } from '../../src/upstream/providers.ts';

const BASE = { NODE_ENV: 'test', DATA_DIR: 'memory://', COOKIE_SECRETS: 'a'.repeat(32), KEY_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64') };

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadConfig({ ...BASE, ...env });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

/** Google's discovery document, as far as the flow reads it (fetched from nowhere: no network in this test). */
const GOOGLE_DISCOVERY = {
  issuer: 'https://accounts.google.com',
  authorization_endpoint: 'https://accounts.google.com/o/oauth2/v2/auth',
  token_endpoint: 'https://oauth2.googleapis.com/token',
  userinfo_endpoint: 'https://openidconnect.googleapis.com/v1/userinfo',
  jwks_uri: 'https://www.googleapis.com/oauth2/v3/certs',
  response_types_supported: ['code'],
  subject_types_supported: ['public'],
  id_token_signing_alg_values_supported: ['RS256'],
  code_challenge_methods_supported: ['plain', 'S256'],
};

describe('upstream providers in the configuration (issue 12)', () => {
  it('configures Google from its client id and secret alone: issuer, name, scopes, callback', () => {
    const config = loadConfig({ ...BASE, ISSUER: 'https://id.example.com', UPSTREAM_GOOGLE_CLIENT_ID: 'gh.apps.googleusercontent.com', UPSTREAM_GOOGLE_CLIENT_SECRET: 'GOCSPX-secret' });
    expect(config.upstreams).toEqual([
      { id: 'google', name: 'Google', issuer: 'https://accounts.google.com', clientId: 'gh.apps.googleusercontent.com', clientSecret: 'GOCSPX-secret', scopes: 'openid email profile', createAccounts: false },
    ]);
    expect(createUpstreams(config.upstreams, config.issuer).callbackUrl('google')).toBe('https://id.example.com/upstream/google/callback');
  });

  it('discovers Google at https://accounts.google.com/.well-known/openid-configuration and sends the browser to its authorization endpoint with PKCE, state and nonce', async () => {
    const config = loadConfig({ ...BASE, ISSUER: 'https://id.example.com', UPSTREAM_GOOGLE_CLIENT_ID: 'gh.apps.googleusercontent.com', UPSTREAM_GOOGLE_CLIENT_SECRET: 'GOCSPX-secret' });
    const fetched: string[] = [];
    const upstreams = createUpstreams(config.upstreams, config.issuer, Date.now, async (url) => {
      fetched.push(String(url));
      return Response.json(GOOGLE_DISCOVERY);
    });
    const cookies: { name: string; options: Record<string, unknown> }[] = [];
    const ctx = { cookies: { set: (name: string, _value: string, options: Record<string, unknown>) => cookies.push({ name, options }) } } as unknown as Context;
    const url = await startUpstreamFlow({ upstreams, https: true }, ctx, 'google', { purpose: 'sign-in', uid: 'interaction-uid' });
    expect(fetched).toEqual(['https://accounts.google.com/.well-known/openid-configuration']);
    expect(`${url.origin}${url.pathname}`).toBe('https://accounts.google.com/o/oauth2/v2/auth');
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      client_id: 'gh.apps.googleusercontent.com',
      redirect_uri: 'https://id.example.com/upstream/google/callback',
      response_type: 'code',
      scope: 'openid email profile',
      code_challenge_method: 'S256',
    });
    expect(url.searchParams.get('state')).toMatch(/^[\w-]{20,}$/);
    expect(url.searchParams.get('nonce')).toMatch(/^[\w-]{20,}$/);
    // The flow's secrets stay in this browser: a signed, HttpOnly, Secure cookie sent back only to the callback.
    expect(cookies).toEqual([
      { name: expect.stringMatching(/^__Secure-gh_upstream_google_[\w-]{16}$/), options: expect.objectContaining({ signed: true, httpOnly: true, secure: true, sameSite: 'lax', path: '/upstream/google/callback' }) },
    ]);
  });

  it('answers a discovery failure with UpstreamUnavailableError, remembers it for 30 s, then tries again', async () => {
    const config = loadConfig({ ...BASE, UPSTREAM_CORP_ISSUER: 'https://login.corp.example', UPSTREAM_CORP_CLIENT_ID: 'gatehouse', UPSTREAM_CORP_CLIENT_SECRET: 's' });
    let calls = 0;
    let now = Date.now();
    const upstreams = createUpstreams(config.upstreams, config.issuer, () => now, async () => {
      calls += 1;
      return new Response('down', { status: 503 });
    });
    await expect(upstreams.client('corp')).rejects.toBeInstanceOf(UpstreamUnavailableError);
    await expect(upstreams.client('corp')).rejects.toBeInstanceOf(UpstreamUnavailableError);
    expect(calls).toBe(1); // pages asking again within 30 s do not each wait for a provider that is down
    now += 31_000;
    await expect(upstreams.client('corp')).rejects.toBeInstanceOf(UpstreamUnavailableError);
    expect(calls).toBe(2);
  });

  it('reads any provider by id: name, scopes, account creation; the id is lower-cased in paths', () => {
    const config = loadConfig({
      ...BASE,
      UPSTREAM_CORP1_ISSUER: 'https://login.corp.example/realms/staff/',
      UPSTREAM_CORP1_CLIENT_ID: 'gatehouse',
      UPSTREAM_CORP1_CLIENT_SECRET: 'corp-secret',
      UPSTREAM_CORP1_NAME: 'Corp SSO',
      UPSTREAM_CORP1_SCOPES: 'openid email',
      UPSTREAM_CORP1_CREATE_ACCOUNTS: 'true',
    });
    expect(config.upstreams).toEqual([
      { id: 'corp1', name: 'Corp SSO', issuer: 'https://login.corp.example/realms/staff', clientId: 'gatehouse', clientSecret: 'corp-secret', scopes: 'openid email', createAccounts: true },
    ]);
  });

  it('lists every upstream problem at once, with the rest of the configuration\'s', () => {
    const problems = problemsOf({
      PORT: 'abc',
      UPSTREAM_GOOGLE_CLIENT_ID: 'only-the-id',
      UPSTREAM_CORP_CLIENT_ID: 'x',
      UPSTREAM_CORP_CLIENT_SECRET: 'y',
      UPSTREAM_PLAIN_ISSUER: 'http://idp.example.com',
      UPSTREAM_PLAIN_CLIENT_ID: 'x',
      UPSTREAM_PLAIN_CLIENT_SECRET: 'y',
      UPSTREAM_PLAIN_SCOPES: 'email profile',
      'UPSTREAM_MY-IDP_ISSUER': 'https://idp.example.com',
      UPSTREAM_GOOGLE_COLOUR: 'blue',
      UPSTREAM_Twice_CLIENT_ID: 'x',
      UPSTREAM_TWICE_CLIENT_SECRET: 'y',
      UPSTREAM_TWICE_ISSUER: 'https://twice.example.com',
      UPSTREAM_FLAG_ISSUER: 'https://flag.example.com',
      UPSTREAM_FLAG_CLIENT_ID: 'x',
      UPSTREAM_FLAG_CLIENT_SECRET: 'y',
      UPSTREAM_FLAG_CREATE_ACCOUNTS: 'sometimes',
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^PORT:/),
        'UPSTREAM_GOOGLE_CLIENT_SECRET: required (the client secret Gatehouse has at the provider)',
        'UPSTREAM_CORP_ISSUER: required (the provider\'s issuer URL)',
        'UPSTREAM_PLAIN_ISSUER: must use https (http is allowed only on loopback)',
        'UPSTREAM_PLAIN_SCOPES: must include openid',
        expect.stringMatching(/^UPSTREAM_MY-IDP_ISSUER: not a setting/),
        expect.stringMatching(/^UPSTREAM_GOOGLE_COLOUR: not a setting/),
        'UPSTREAM_TWICE: spelled Twice and TWICE; use one spelling for the id',
        'UPSTREAM_FLAG_CREATE_ACCOUNTS: must be true or false',
      ]),
    );
  });

  it('accepts an http issuer on loopback only (a local IdP, the tests\' upstream)', () => {
    const config = loadConfig({ ...BASE, UPSTREAM_LOCAL_ISSUER: 'http://127.0.0.1:4000', UPSTREAM_LOCAL_CLIENT_ID: 'x', UPSTREAM_LOCAL_CLIENT_SECRET: 'y' });
    expect(config.upstreams.map((upstream) => upstream.issuer)).toEqual(['http://127.0.0.1:4000']);
  });

  it('configures no provider when no UPSTREAM_ key is set', () => {
    expect(loadConfig(BASE).upstreams).toEqual([]);
  });
});
