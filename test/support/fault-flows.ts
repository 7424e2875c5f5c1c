import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { expect } from '@jest/globals';
import * as oidc from 'openid-client';
import type { TestServer } from './app.ts';
import { UserAgent } from './browserless.ts';
import { REDIRECT_URI } from './e2e.ts';
import { USER, WEB_SECRET } from './fixtures.ts';
import { findForm, openLoginPage, rawAuthorization, signInThroughForms, submit, type LoginPage } from './forms.ts';

/*
 * The steps and checks of the fault tests (issue 8: test/integration/faults.test.ts, redis-restart.test.ts):
 * a sign-in completed before an outage, one stopped mid-way, what every request must get during the
 * outage (503 with Retry-After in time, no internals) and what must hold after it.
 */

/** The bound the issue sets for an answer during an outage. */
export const OUTAGE_BOUND_MS = 2_000;

const basic = `Basic ${Buffer.from(`web:${WEB_SECRET}`).toString('base64')}`;

export async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work();
  return { value, ms: performance.now() - started };
}

/** A 503 that says when to come back, in time, and shows no internals. */
export async function expectOutage(response: Response, ms: number): Promise<string> {
  const body = await response.text();
  expect({ status: response.status, retryAfter: response.headers.get('retry-after') }).toEqual({ status: 503, retryAfter: '5' });
  expect(ms).toBeLessThan(OUTAGE_BOUND_MS);
  expect(body).not.toMatch(/\n\s+at |ECONN|ETIMEDOUT|ioredis|timed out|Connection terminated|Stream isn't/);
  expect(response.headers.get('set-cookie')).toBeNull();
  expect(response.headers.get('location')).toBeNull();
  return body;
}

export function exchange(server: TestServer, code: string, verifier: string): Promise<Response> {
  return fetch(`${server.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier }),
  });
}

export function userinfo(server: TestServer, accessToken: string): Promise<Response> {
  return fetch(`${server.issuer}/me`, { headers: { authorization: `Bearer ${accessToken}` } });
}

/** Polls /readyz until it is 200; the time it took. */
export async function readyAgain(server: TestServer, limitMs = 15_000): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < limitMs) {
    if ((await fetch(`${server.issuer}/readyz`)).status === 200) return performance.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`/readyz not 200 within ${limitMs} ms`);
}

/** A completed sign-in before the outage: its code is consumed, its tokens are live. */
export interface Before {
  /** The browser that signed in: it holds a session. */
  ua: UserAgent;
  code: string;
  verifier: string;
  accessToken: string;
  refreshToken: string;
}

export async function signInBefore(server: TestServer): Promise<Before> {
  const auth = rawAuthorization(server.issuer, { client_id: 'web', redirect_uri: REDIRECT_URI, scope: 'openid offline_access', prompt: 'consent' });
  const ua = new UserAgent();
  const callback = await signInThroughForms(ua, server.issuer, auth.url, USER.email, USER.password);
  const code = callback.searchParams.get('code')!;
  const response = await exchange(server, code, auth.verifier);
  const tokens = (await response.json()) as { access_token: string; refresh_token: string };
  expect(response.status).toBe(200);
  return { ua, code, verifier: auth.verifier, accessToken: tokens.access_token, refreshToken: tokens.refresh_token };
}

/** A sign-in stopped at the password form: the interaction is stored, the password not yet sent. */
export interface MidFlow {
  ua: UserAgent;
  auth: ReturnType<typeof rawAuthorization>;
  page: LoginPage;
}

export async function startFlow(server: TestServer): Promise<MidFlow> {
  const ua = new UserAgent();
  const auth = rawAuthorization(server.issuer, { client_id: 'web', redirect_uri: REDIRECT_URI, scope: 'openid email' });
  return { ua, auth, page: await openLoginPage(ua, server.issuer, auth.url) };
}

/**
 * What every request that needs the store must do during the outage: the next step of the sign-in,
 * a token request, userinfo and a fresh authorization all answer 503 in time; /readyz 503, /healthz 200.
 */
export async function expectEveryStepRefused(server: TestServer, flow: MidFlow, before: Before, store: 'redis' | 'database'): Promise<void> {
  const cookiesBefore = flow.ua.setCookies.length;
  const login = await timed(() => submit(flow.ua, flow.page.login, { email: USER.email, password: USER.password }));
  const page = await expectOutage(login.value, login.ms);
  expect(page).toContain('temporarily unavailable');
  expect(flow.ua.setCookies.length).toBe(cookiesBefore);

  const token = await timed(() => exchange(server, before.code, before.verifier));
  expect(JSON.parse(await expectOutage(token.value, token.ms))).toEqual({ error: 'temporarily_unavailable', error_description: expect.any(String) });

  const me = await timed(() => userinfo(server, before.accessToken));
  expect(JSON.parse(await expectOutage(me.value, me.ms))).toMatchObject({ error: 'temporarily_unavailable' });

  const fresh = rawAuthorization(server.issuer, { client_id: 'web', redirect_uri: REDIRECT_URI });
  const authorize = await timed(() => fetch(fresh.url, { headers: { accept: 'text/html' }, redirect: 'manual' }));
  expect(await expectOutage(authorize.value, authorize.ms)).toContain('temporarily unavailable');

  const ready = await timed(() => fetch(`${server.issuer}/readyz`));
  expect(ready.value.status).toBe(503);
  expect(ready.ms).toBeLessThan(OUTAGE_BOUND_MS + 500);
  const checks = ((await ready.value.json()) as { checks: Record<string, string> }).checks;
  expect(checks[store]).toMatch(/^unavailable/);
  expect((await fetch(`${server.issuer}/healthz`)).status).toBe(200);
}

/**
 * After the store is back: the browser that was refused mid-flow holds no session (prompt=none says
 * login_required), the same password form now works and the sign-in completes with tokens openid-client
 * validates; the refresh token from before the outage still works and its consumed code still fails.
 */
export async function expectRecovered(server: TestServer, flow: MidFlow, before: Before): Promise<void> {
  const silent = rawAuthorization(server.issuer, { client_id: 'web', redirect_uri: REDIRECT_URI, prompt: 'none' });
  const { url } = await flow.ua.follow(silent.url, server.issuer);
  expect(new URL(url).searchParams.get('error')).toBe('login_required');

  const response = await submit(flow.ua, flow.page.login, { email: USER.email, password: USER.password });
  expect(response.status).toBe(303);
  const afterLogin = await flow.ua.follow(flow.page.url, server.issuer, response);
  let landed = afterLogin.url;
  if (landed.startsWith(server.issuer)) {
    const consent = await submit(flow.ua, findForm(await afterLogin.response.text(), '/consent', server.issuer), { decision: 'approve' });
    landed = (await flow.ua.follow(landed, server.issuer, consent)).url;
  }
  const rp = await oidc.discovery(new URL(server.issuer), 'web', undefined, oidc.ClientSecretBasic(WEB_SECRET), { execute: [oidc.allowInsecureRequests] });
  const tokens = await oidc.authorizationCodeGrant(rp, new URL(landed), {
    pkceCodeVerifier: flow.auth.verifier,
    expectedState: flow.auth.state,
    expectedNonce: new URL(flow.auth.url).searchParams.get('nonce')!,
  });
  expect(tokens.claims()!.sub).toBeTruthy();
  expect((await userinfo(server, tokens.access_token)).status).toBe(200);

  const refreshed = await fetch(`${server.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: before.refreshToken }),
  });
  expect(refreshed.status).toBe(200);
  // Last: a replayed code revokes its grant (that refresh token included), as it should.
  const replay = await exchange(server, before.code, before.verifier);
  expect(replay.status).toBe(400);
  expect(((await replay.json()) as { error: string }).error).toBe('invalid_grant');
}

/**
 * Fires `count` requests at once during a slow store: every one is answered 503 in time, none waits in a
 * queue. Returns the event loop's p99 delay in ms meanwhile (the app runs in this process): waiting on a
 * slow store must not block it.
 */
export async function expectNoPileUp(server: TestServer, count: number, boundMs: number): Promise<number> {
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  const started = performance.now();
  const answers = await Promise.all(
    Array.from({ length: count }, async () => {
      const response = await fetch(rawAuthorization(server.issuer, { client_id: 'web', redirect_uri: REDIRECT_URI }).url, { headers: { accept: 'application/json' }, redirect: 'manual' });
      return { status: response.status, retryAfter: response.headers.get('retry-after'), ms: performance.now() - started };
    }),
  );
  lag.disable();
  for (const answer of answers) expect(answer).toEqual({ status: 503, retryAfter: '5', ms: expect.any(Number) });
  expect(Math.max(...answers.map((answer) => answer.ms))).toBeLessThan(boundMs);
  return lag.percentile(99) / 1e6;
}
