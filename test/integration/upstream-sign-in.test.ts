import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { generate } from 'otplib';
import { createAccount } from '../../src/accounts/create-account.ts';
import { confirmTotpEnrolment, startTotpEnrolment } from '../../src/accounts/mfa/totp.ts';
import { findAccountByEmail } from '../../src/storage/postgres/accounts.queries.ts';
import { findUpstreamIdentity, listUpstreamIdentities } from '../../src/storage/postgres/upstream-identities.queries.ts';
import { UserAgent } from '../support/browserless.ts';
import { buildAuthorization, REDIRECT_URI, stacks, type StackEnv } from '../support/e2e.ts';
import { seedBasics, WEB_SECRET } from '../support/fixtures.ts';
import { clickUpstream, followAcross, signInUpstream, startUpstreamStack, submitForm, UPSTREAM_ID, type Landing, type UpstreamStack } from '../support/upstream-journey.ts';

const LOCAL = { email: 'local.owner@example.com', password: 'the local owner knows this one' };
const TOTP_USER = { email: 'totp.owner@example.com', password: 'two steps for this account too' };

/**
 * Issue 12: signing in through an upstream OpenID provider (a real oidc-provider on loopback), driven
 * browser-less through the real pages; tokens are redeemed and validated by openid-client.
 */
describe.each(stacks)('upstream sign-in ($name)', (stack) => {
  let backend: StackEnv;
  let stack_: UpstreamStack;
  let rp: oidc.Configuration;
  let totpSecret: string;
  const issuer = () => stack_.server.issuer;
  const db = () => stack_.server.app.db;

  beforeAll(async () => {
    backend = await stack.setup();
    stack_ = await startUpstreamStack({ ...backend.env, REGISTRATION: 'open' });
    await seedBasics(stack_.server);
    await createAccount(db(), stack_.server.app.hasher, { ...LOCAL, emailVerified: true });
    const totpAccount = await createAccount(db(), stack_.server.app.hasher, { ...TOTP_USER, emailVerified: true });
    const past = { db: db(), keyEncryptionKeys: stack_.server.config.keyEncryptionKeys, now: () => new Date(Date.now() - 60_000) };
    totpSecret = (await startTotpEnrolment(past, totpAccount, 'Gatehouse'))!.secret;
    expect(await confirmTotpEnrolment(past, totpAccount.id, await generate({ secret: totpSecret, epoch: Math.floor(Date.now() / 1000) - 60 }))).toBe(true);
    // The first-party client: no consent page, so each test ends at the relying party's callback.
    rp = await oidc.discovery(new URL(issuer()), 'house', WEB_SECRET, undefined, { execute: [oidc.allowInsecureRequests] });
    const users = stack_.upstream.users;
    users.set('new-sub', { email: 'newcomer@example.com', email_verified: true, name: 'New Comer' });
    users.set('claims-victim-verified', { email: LOCAL.email, email_verified: true });
    users.set('claims-victim-unverified', { email: LOCAL.email.toUpperCase(), email_verified: false });
    users.set('totp-sub', { email: 'someone.else@example.com', email_verified: true });
    users.set('no-email-sub', {});
    users.set('tamper-sub', { email: 'tampered@example.com', email_verified: true });
    users.set('replay-sub', { email: 'replay@example.com', email_verified: true });
  });

  afterAll(async () => {
    await stack_?.close();
    await backend?.cleanup();
  });

  /** Opens the relying party's authorization request at Gatehouse's sign-in page in a fresh browser. */
  async function startAt(ua = new UserAgent(), extra: Record<string, string> = {}) {
    const auth = await buildAuthorization(rp, extra);
    const page = await followAcross(ua, auth.url.href);
    expect(page.html).toContain('Sign in with Test IdP');
    return { ua, auth, page };
  }

  async function redeem(landing: Landing, auth: Awaited<ReturnType<typeof buildAuthorization>>) {
    expect(landing.url.startsWith(REDIRECT_URI)).toBe(true);
    const tokens = await oidc.authorizationCodeGrant(rp, new URL(landing.url), { pkceCodeVerifier: auth.verifier, expectedState: auth.state, expectedNonce: auth.nonce, idTokenExpected: true });
    return { tokens, claims: tokens.claims()!, userinfo: await oidc.fetchUserInfo(rp, tokens.access_token, tokens.claims()!.sub) };
  }

  it('starts code + PKCE (S256) with state and nonce at the upstream, back to {ISSUER}/upstream/test/callback', async () => {
    const { ua, page } = await startAt();
    const upstreamPage = await clickUpstream(ua, issuer(), page);
    expect(upstreamPage.url.startsWith(stack_.upstream.issuer)).toBe(true);
    const request = stack_.upstream.authorizationRequests.at(-1)!;
    expect(request.get('redirect_uri')).toBe(`${issuer()}/upstream/${UPSTREAM_ID}/callback`);
    expect(request.get('code_challenge_method')).toBe('S256');
    expect(request.get('code_challenge')).toMatch(/^[\w-]{43}$/);
    expect(request.get('state')).toMatch(/^[\w-]{20,}$/);
    expect(request.get('nonce')).toMatch(/^[\w-]{20,}$/);
    expect(request.get('scope')).toBe('openid email profile');
  });

  it('creates an account on first use and signs straight in on the second; the RP sees the Gatehouse sub, never the upstream\'s', async () => {
    const first = await startAt();
    const upstreamPage = await clickUpstream(first.ua, issuer(), first.page);
    const { claims, userinfo } = await redeem(await signInUpstream(first.ua, stack_.upstream, upstreamPage, 'new-sub'), first.auth);
    const account = (await findAccountByEmail(db(), 'newcomer@example.com'))!;
    expect(account).toMatchObject({ email_verified: true, password_hash: null, name: 'New Comer' });
    expect(claims.sub).toBe(account.id);
    expect(claims.sub).not.toBe('new-sub');
    expect(claims.amr).toEqual(['fed']);
    expect(claims.acr).toBe('urn:gatehouse:loa:fed');
    expect(userinfo).toMatchObject({ sub: account.id, email: 'newcomer@example.com', email_verified: true });
    expect((await findUpstreamIdentity(db(), UPSTREAM_ID, 'new-sub'))?.account_id).toBe(account.id);

    // A new Gatehouse browser, the same upstream browser session: no form anywhere, the same account.
    const second = await startAt(new UserAgent());
    for (const [name, value] of first.ua.cookies) if (name.startsWith('up_')) second.ua.cookies.set(name, value);
    const again = await redeem(await clickUpstream(second.ua, issuer(), second.page), second.auth);
    expect(again.claims.sub).toBe(account.id);
    expect(await listUpstreamIdentities(db(), account.id)).toHaveLength(1);
  });

  it.each([
    ['verified', 'claims-victim-verified'],
    ['unverified', 'claims-victim-unverified'],
  ])('never signs in as the local account with the same email (%s upstream) without its password; with it, links', async (_label, sub) => {
    const { ua, auth, page } = await startAt();
    const linkPage = await signInUpstream(ua, stack_.upstream, await clickUpstream(ua, issuer(), page), sub);
    // Not signed in, not linked: a page asking for the local account's password.
    expect(linkPage.url).toMatch(/\/interaction\/[^/]+$/);
    expect(linkPage.html).toContain('This email already has an account');
    expect(await findUpstreamIdentity(db(), UPSTREAM_ID, sub)).toBeUndefined();
    const local = (await findAccountByEmail(db(), LOCAL.email))!;
    const signIns = async () =>
      (await db().selectFrom('audit_events').select('id').where('type', '=', 'sign_in').where('outcome', '=', 'success').where('account_id', '=', local.id).execute()).length;
    const signInsBefore = await signIns();
    // The interaction resumed now still issues nothing: its login prompt is unresolved.
    const resumed = await followAcross(ua, linkPage.url);
    expect(resumed.url).toBe(linkPage.url);

    const wrong = await submitForm(ua, issuer(), linkPage, '/link', { password: 'not the local password at all' });
    expect(wrong.status).toBe(400);
    expect(wrong.html).toContain('That password is not this account’s.');
    expect(await findUpstreamIdentity(db(), UPSTREAM_ID, sub)).toBeUndefined();
    expect(await signIns()).toBe(signInsBefore);

    const { claims } = await redeem(await submitForm(ua, issuer(), wrong, '/link', { password: LOCAL.password }), auth);
    expect(claims.sub).toBe(local.id);
    expect(claims.amr).toEqual(['pwd']);
    expect((await findUpstreamIdentity(db(), UPSTREAM_ID, sub))?.account_id).toBe(local.id);
    const linked = await db().selectFrom('audit_events').select(['type', 'details']).where('account_id', '=', local.id).where('type', '=', 'upstream_linked').execute();
    expect(linked.at(-1)?.details).toMatchObject({ provider: UPSTREAM_ID });
    const mail = await db().selectFrom('mail_outbox').select(['recipient', 'text_body']).where('recipient', '=', LOCAL.email).execute();
    expect(mail.some((row) => row.text_body.includes('Your Test IdP sign-in was linked to your account'))).toBe(true);
    // Unlinked again for the next case (the account has one identity per provider).
    await db().deleteFrom('upstream_identities').where('account_id', '=', local.id).execute();
  });

  it('still asks an account with TOTP for its code after an upstream sign-in; amr and acr say both', async () => {
    const account = (await findAccountByEmail(db(), TOTP_USER.email))!;
    await db().insertInto('upstream_identities').values({ provider: UPSTREAM_ID, subject: 'totp-sub', account_id: account.id, email: null, last_used_at: null }).execute();
    const { ua, auth, page } = await startAt();
    const codePage = await signInUpstream(ua, stack_.upstream, await clickUpstream(ua, issuer(), page), 'totp-sub');
    expect(codePage.url).toMatch(/\/interaction\/[^/]+$/);
    expect(codePage.html).toContain('name="code"');
    const { claims } = await redeem(await submitForm(ua, issuer(), codePage, '/mfa', { code: await generate({ secret: totpSecret }) }), auth);
    expect(claims.sub).toBe(account.id);
    expect(claims.amr).toEqual(['fed', 'otp', 'mfa']);
    expect(claims.acr).toBe('urn:gatehouse:loa:mfa');
  });

  it('refuses a callback with a wrong state, or one opened in another browser, and still completes the real one', async () => {
    const { ua, auth, page } = await startAt();
    const upstreamPage = await clickUpstream(ua, issuer(), page);
    const target = new URL(/action="([^"]*\/login)"/.exec(upstreamPage.html)![1]!, stack_.upstream.issuer).href;
    const callback = (await ua.post(target, { sub: 'replay-sub', action: 'login' })).headers.get('location')!;
    // The upstream's /auth resume answers with the redirect to our callback.
    const toCallback = await ua.get(new URL(callback, stack_.upstream.issuer).href);
    const callbackUrl = new URL(toCallback.headers.get('location')!);
    expect(callbackUrl.pathname).toBe(`/upstream/${UPSTREAM_ID}/callback`);

    const forged = new URL(callbackUrl);
    forged.searchParams.set('state', 'a-state-this-browser-never-sent-anywhere');
    const wrongState = await ua.get(forged.href, { accept: 'application/json' });
    expect(wrongState.status).toBe(400);
    expect(await wrongState.json()).toMatchObject({ error: 'invalid_upstream_callback' });

    // Bad input of any shape is a 400, never a 500: a state of another byte length, a huge one.
    for (const state of [`é${'x'.repeat(42)}`, 'x'.repeat(5000)]) {
      const odd = new URL(callbackUrl);
      odd.searchParams.set('state', state);
      expect((await ua.get(odd.href, { accept: 'application/json' })).status).toBe(400);
    }

    const otherBrowser = await new UserAgent().get(callbackUrl.href, { accept: 'application/json' });
    expect(otherBrowser.status).toBe(400);
    // Another browser with a flow of its own at the same provider: its cookie is for its own state only.
    const other = await startAt();
    await clickUpstream(other.ua, issuer(), other.page);
    const crossed = await other.ua.get(callbackUrl.href, { accept: 'application/json' });
    expect(crossed.status).toBe(400);

    const cookiesBefore = new Map(ua.cookies);
    const { claims } = await redeem(await followAcross(ua, callbackUrl.href), auth);
    expect(claims.sub).toBe((await findAccountByEmail(db(), 'replay@example.com'))!.id);

    // Replayed with the cookies the browser had before: the flow is spent (and the code used up upstream).
    const replay = new UserAgent();
    for (const [name, value] of cookiesBefore) replay.cookies.set(name, value);
    const replayed = await replay.get(callbackUrl.href, { accept: 'application/json' });
    expect(replayed.status).toBe(400);
  });

  it('spends the flow at its first callback: the same callback again in the same browser is refused', async () => {
    // Cancelled at the upstream: the interaction stays at its sign-in form, so only the spent cookie refuses the replay.
    const { ua, page } = await startAt();
    const upstreamPage = await clickUpstream(ua, issuer(), page);
    const target = new URL(/action="([^"]*\/login)"/.exec(upstreamPage.html)![1]!, stack_.upstream.issuer).href;
    const resume = (await ua.post(target, { sub: '', action: 'cancel' })).headers.get('location')!;
    const callbackUrl = (await ua.get(new URL(resume, stack_.upstream.issuer).href)).headers.get('location')!;
    const first = await followAcross(ua, callbackUrl);
    expect(first.html).toContain('Signing in with Test IdP was cancelled.');
    const again = await ua.get(callbackUrl, { accept: 'application/json' });
    expect(again.status).toBe(400);
    expect(await again.json()).toMatchObject({ error: 'invalid_upstream_callback' });
  });

  it('refuses an ID token with a bad signature: back to the sign-in page, nothing created', async () => {
    const { ua, page } = await startAt();
    stack_.upstream.tamper.idTokenSignature = true;
    try {
      const back = await signInUpstream(ua, stack_.upstream, await clickUpstream(ua, issuer(), page), 'tamper-sub');
      expect(back.url).toMatch(/\/interaction\/[^/]+$/);
      expect(back.html).toContain('Signing in with Test IdP did not work.');
      expect(await findAccountByEmail(db(), 'tampered@example.com')).toBeUndefined();
      expect(await findUpstreamIdentity(db(), UPSTREAM_ID, 'tamper-sub')).toBeUndefined();
    } finally {
      stack_.upstream.tamper.idTokenSignature = false;
    }
  });

  it('returns to the sign-in page with a plain message when the user cancels at the upstream, or it shares no email', async () => {
    const cancelled = await startAt();
    const back = await signInUpstream(cancelled.ua, stack_.upstream, await clickUpstream(cancelled.ua, issuer(), cancelled.page), '', 'cancel');
    expect(back.html).toContain('Signing in with Test IdP was cancelled.');
    expect(back.html).toContain('name="password"');

    const noEmail = await startAt();
    const refused = await signInUpstream(noEmail.ua, stack_.upstream, await clickUpstream(noEmail.ua, issuer(), noEmail.page), 'no-email-sub');
    expect(refused.html).toContain('Test IdP did not share an email address');
    expect(await findUpstreamIdentity(db(), UPSTREAM_ID, 'no-email-sub')).toBeUndefined();
  });
});
