import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pino from 'pino';
import { createAccount } from '../../src/accounts/create-account.ts';
import { upsertClient } from '../../src/storage/postgres/clients.queries.ts';
import { startTestServer, type TestServer } from '../support/app.ts';
import { UserAgent } from '../support/browserless.ts';
import { buildAuthorization, REDIRECT_URI, signIn } from '../support/e2e.ts';
import * as oidc from 'openid-client';

const PASSWORD = 'a password that must never be logged';

describe('HTTP surface: health, the error presenter, headers and logs', () => {
  let server: TestServer;
  const logLines: string[] = [];

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logLines.push(chunk.toString());
        done();
      },
    });
    server = await startTestServer({ DATA_DIR: 'memory://' }, { logger: pino({ level: 'debug' }, sink) });
    await upsertClient(server.app.db, 'web', {
      client_id: 'web', client_secret: 'web-secret-that-must-never-be-logged', redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code'], response_types: ['code'],
    });
    await createAccount(server.app.db, server.app.hasher, { email: 'log@example.com', password: PASSWORD });
  });

  afterAll(async () => {
    await server?.close();
  });

  it('answers /healthz and /readyz with JSON', async () => {
    const health = await fetch(`${server.issuer}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${server.issuer}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ok', checks: { database: 'ok', migrations: 'ok' } });
  });

  it('renders an unknown interaction as a 400 page or JSON by Accept, never a stack trace', async () => {
    const json = await fetch(`${server.issuer}/interaction/nope`, { headers: { accept: 'application/json' } });
    expect(json.status).toBe(400);
    const body = (await json.json()) as Record<string, string>;
    expect(body.error).toBe('interaction_expired');
    expect(body.error_description).toMatch(/start again/);
    expect(body.request_id).toBe(json.headers.get('x-request-id'));

    const html = await fetch(`${server.issuer}/interaction/nope`, { headers: { accept: 'text/html' } });
    expect(html.status).toBe(400);
    expect(html.headers.get('content-type')).toMatch(/text\/html/);
    expect(html.headers.get('cache-control')).toBe('no-store');
    const page = await html.text();
    expect(page).toContain('This sign-in request has expired');
    expect(page).not.toMatch(/at .*\.ts:\d+/);
  });

  it("renders oidc-provider's errors through the same layout", async () => {
    const response = await fetch(`${server.issuer}/auth?client_id=unknown&response_type=code&scope=openid`, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(400);
    const page = await response.text();
    expect(page).toContain('/assets/gatehouse.css');
    expect(page).toContain('invalid_client');
  });

  it('sends security headers and no-store on interaction pages', async () => {
    const ua = new UserAgent();
    const rp = await oidc.discovery(new URL(server.issuer), 'web', undefined, oidc.ClientSecretBasic('web-secret-that-must-never-be-logged'), { execute: [oidc.allowInsecureRequests] });
    const auth = await buildAuthorization(rp, { scope: 'openid' });
    const { response } = await ua.follow(auth.url.href, server.issuer);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(response.headers.get('x-frame-options')).toBe('DENY');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('never writes passwords, client secrets, codes or tokens to the log', async () => {
    const ua = new UserAgent();
    const rp = await oidc.discovery(new URL(server.issuer), 'web', undefined, oidc.ClientSecretBasic('web-secret-that-must-never-be-logged'), { execute: [oidc.allowInsecureRequests] });
    const auth = await buildAuthorization(rp, { scope: 'openid' });
    const callback = await signIn(ua, server.issuer, auth.url, 'log@example.com', PASSWORD);
    const tokens = await oidc.authorizationCodeGrant(rp, callback, { pkceCodeVerifier: auth.verifier, expectedState: auth.state, expectedNonce: auth.nonce });
    const log = logLines.join('');
    expect(log).toContain('"path":"/token"');
    for (const secret of [PASSWORD, 'web-secret-that-must-never-be-logged', callback.searchParams.get('code')!, tokens.access_token, tokens.id_token!]) {
      expect(log).not.toContain(secret);
    }
  });
});

describe('readiness when a dependency is down', () => {
  let server: TestServer;

  beforeAll(async () => {
    // Nothing listens on port 1: Redis is "down" from the start; the database is fine.
    server = await startTestServer({ DATA_DIR: 'memory://', REDIS_URL: 'redis://127.0.0.1:1' });
  });

  afterAll(async () => {
    await server?.close();
  });

  it('keeps /healthz green but answers /readyz 503 naming the failed dependency', async () => {
    expect((await fetch(`${server.issuer}/healthz`)).status).toBe(200);
    const ready = await fetch(`${server.issuer}/readyz`);
    expect(ready.status).toBe(503);
    const body = (await ready.json()) as { status: string; checks: Record<string, string> };
    expect(body.status).toBe('unavailable');
    expect(body.checks.database).toBe('ok');
    expect(body.checks.redis).toMatch(/^unavailable/);
  });

  // ABU-04: the client-authentication limit's store is Redis too, and it fails closed before anything else.
  it('fails a token request that needs Redis promptly with 503 temporarily_unavailable, not a hang or a stack trace', async () => {
    await upsertClient(server.app.db, 'svc', {
      client_id: 'svc', client_secret: 'svc-secret-0123456789-0123456789-01', grant_types: ['client_credentials'],
      response_types: [], redirect_uris: [],
    });
    const started = Date.now();
    const response = await fetch(`${server.issuer}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from('svc:svc-secret-0123456789-0123456789-01').toString('base64')}`,
      },
      body: 'grant_type=client_credentials',
    });
    expect(response.status).toBe(503);
    const body = (await response.json()) as Record<string, string>;
    expect(body.error).toBe('temporarily_unavailable');
    expect(JSON.stringify(body)).not.toMatch(/ECONNREFUSED|\n\s+at /);
    expect(Date.now() - started).toBeLessThan(15_000);
  });
});
