import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createAccount } from '../../src/accounts/create-account.ts';
import { findAccountByEmail } from '../../src/storage/postgres/accounts.queries.ts';
import { findUpstreamIdentity, listUpstreamIdentities } from '../../src/storage/postgres/upstream-identities.queries.ts';
import { getPage, signedInBrowser, type Page } from '../support/account-settings.ts';
import { formAction, inputValue, UserAgent } from '../support/browserless.ts';
import { REDIRECT_URI, stacks, type StackEnv } from '../support/e2e.ts';
import { seedBasics } from '../support/fixtures.ts';
import { rawAuthorization } from '../support/forms.ts';
import { clickUpstream, followAcross, signInUpstream, startUpstreamStack, UPSTREAM_ID, type Landing, type UpstreamStack } from '../support/upstream-journey.ts';

const PASSWORD = 'the account page test passphrase';
const LINK = `/account/upstream/${UPSTREAM_ID}/link`;
const UNLINK = `/account/upstream/${UPSTREAM_ID}/unlink`;

/**
 * Issue 12, the account page: /account/security lists the configured upstream providers, links one
 * through the real upstream (an in-process oidc-provider) and unlinks one, never the last way in.
 * Driven browser-less through the real pages, on the embedded store and on Postgres + Redis.
 */
describe.each(stacks)('upstream providers on the account page ($name)', (stack) => {
  let backend: StackEnv;
  let stack_: UpstreamStack;
  let people = 0;
  const issuer = () => stack_.server.issuer;
  const db = () => stack_.server.app.db;

  beforeAll(async () => {
    backend = await stack.setup();
    stack_ = await startUpstreamStack({ ...backend.env, REGISTRATION: 'open' });
    await seedBasics(stack_.server);
    const users = stack_.upstream.users;
    users.set('link-sub', { email: 'linked.elsewhere@example.com', email_verified: true });
    users.set('taken-sub', { email: 'taken@example.com', email_verified: true });
    users.set('late-sub', { email: 'late@example.com', email_verified: true });
    users.set('only-sub', { email: 'only.way.in@example.com', email_verified: true });
  });

  afterAll(async () => {
    await stack_?.close();
    await backend?.cleanup();
  });

  /** A fresh password account per test, signed in to Gatehouse in its own browser. */
  async function person() {
    people += 1;
    const email = `upstream.person${people}@example.com`;
    const account = await createAccount(db(), stack_.server.app.hasher, { email, password: PASSWORD, emailVerified: true });
    return { account, email, ua: await signedInBrowser(stack_.server, email, PASSWORD) };
  }
  const security = (ua: UserAgent, headers?: Record<string, string>) => getPage(ua, `${issuer()}/account/security`, headers);
  /** Posts one of the security page's forms with the page's CSRF token; the answer as is (not followed). */
  const post = (ua: UserAgent, page: Page, path: string, form: Record<string, string> = {}) =>
    ua.post(new URL(formAction(page.html, path), issuer()).href, { csrf: inputValue(page.html, 'csrf'), ...form });
  /** Link from the page with the current password, sign in at the upstream as `sub`, and land back on Gatehouse. */
  async function linkAs(ua: UserAgent, sub: string, beforeUpstream?: () => void): Promise<Landing> {
    const started = await post(ua, await security(ua), LINK, { password: PASSWORD });
    expect(started.status).toBe(303);
    expect(started.headers.get('location')!.startsWith(`${stack_.upstream.issuer}/`)).toBe(true);
    const upstreamPage = await followAcross(ua, started.headers.get('location')!);
    beforeUpstream?.();
    return signInUpstream(ua, stack_.upstream, upstreamPage, sub);
  }
  const auditTypes = async (accountId: string) =>
    (await db().selectFrom('audit_events').select(['type', 'details']).where('account_id', '=', accountId).where('type', 'in', ['upstream_linked', 'upstream_unlinked']).execute());
  const mailTo = async (email: string) => (await db().selectFrom('mail_outbox').select('text_body').where('recipient', '=', email).execute()).map((row) => row.text_body);

  it('lists the provider with a labelled Link form, and lets the page\'s forms end at the upstream (CSP form-action)', async () => {
    const { ua } = await person();
    const page = await security(ua);
    expect(page.status).toBe(200);
    expect(page.html).toContain('<h2 id="upstreams-heading">Sign in with another service</h2>');
    expect(page.html).toMatch(/<li id="upstream-test"><h3 id="upstream-test-name"><bdi>Test IdP<\/bdi><\/h3><p id="upstream-test-status">Not linked<\/p>/);
    expect(page.html).toContain(`<form method="post" action="${LINK}" novalidate>`);
    expect(page.html).toContain('<label for="upstream-test-password">Current password</label>');
    expect(page.html).toMatch(/<input id="upstream-test-password" name="password"[^>]*type="password"[^>]*autocomplete="current-password"/);
    expect(page.html).toContain('<button type="submit" aria-describedby="upstream-test-status">Link Test IdP</button>');
    expect(page.html).not.toContain(UNLINK);
    const formAction_ = /form-action ([^;]+)/.exec(page.headers.get('content-security-policy')!)![1]!.split(' ');
    expect(formAction_).toEqual(expect.arrayContaining(["'self'", new URL(stack_.upstream.issuer).origin]));
    const ar = await security(ua, { 'accept-language': 'ar' });
    expect(ar.html).toContain('تسجيل الدخول باستخدام خدمة أخرى');
    expect(ar.html).toContain('اربط Test IdP');
  });

  it('links the upstream for a password account: a wrong current password starts nothing; the right one links, audited and mailed', async () => {
    const { account, email, ua } = await person();
    const requestsBefore = stack_.upstream.authorizationRequests.length;
    const wrong = await post(ua, await security(ua), LINK, { password: 'not the current password' });
    expect(wrong.status).toBe(400);
    const wrongHtml = await wrong.text();
    expect(wrongHtml).toMatch(/<p class="error" id="upstream-test-password-error" role="alert">Your current password is incorrect.<\/p>/);
    expect(wrongHtml).toContain('aria-invalid="true"');
    expect(stack_.upstream.authorizationRequests).toHaveLength(requestsBefore);
    expect([...ua.cookies.keys()].some((name) => name.includes('gh_upstream'))).toBe(false);
    expect(await listUpstreamIdentities(db(), account.id)).toHaveLength(0);

    const back = await linkAs(ua, 'link-sub');
    const url = new URL(back.url);
    expect(url.pathname).toBe('/account/security');
    expect(Object.fromEntries(url.searchParams)).toEqual({ upstream: UPSTREAM_ID, result: 'linked' });
    expect(back.status).toBe(200);
    expect(back.html).toContain('<p id="upstream-result" role="status">Test IdP is linked: you can now sign in with it.</p>');
    expect(back.html).toContain('<p id="upstream-test-status">Linked as <strong><bdi>linked.elsewhere@example.com</bdi></strong></p>');
    expect(back.html).toContain(`action="${UNLINK}"`);
    expect(back.html).not.toContain(`action="${LINK}"`);
    expect((await findUpstreamIdentity(db(), UPSTREAM_ID, 'link-sub'))?.account_id).toBe(account.id);
    expect(await auditTypes(account.id)).toEqual([{ type: 'upstream_linked', details: { provider: UPSTREAM_ID } }]);
    expect((await mailTo(email)).some((body) => body.includes('Your Test IdP sign-in was linked to your account'))).toBe(true);

    // A second Link for the same provider is refused before any trip to the upstream.
    const again = await ua.post(`${issuer()}${LINK}`, { csrf: inputValue(back.html, 'csrf'), password: PASSWORD });
    expect(again.status).toBe(409);
    expect(await again.text()).toContain('Test IdP is already linked to this account.');
  });

  it('links nothing when that upstream identity is already another account\'s: result=taken', async () => {
    const owner = await person();
    await db().insertInto('upstream_identities').values({ provider: UPSTREAM_ID, subject: 'taken-sub', account_id: owner.account.id, email: 'taken@example.com', last_used_at: null }).execute();
    const { account, ua } = await person();
    const back = await linkAs(ua, 'taken-sub');
    expect(new URL(back.url).searchParams.get('result')).toBe('taken');
    expect(back.html).toContain('<p class="error" id="upstream-result" role="alert">That Test IdP sign-in is already linked to an account. Unlink it there first.</p>');
    expect(back.html).toContain('<p id="upstream-test-status">Not linked</p>');
    expect((await findUpstreamIdentity(db(), UPSTREAM_ID, 'taken-sub'))?.account_id).toBe(owner.account.id);
    expect(await listUpstreamIdentities(db(), account.id)).toHaveLength(0);
    expect(await auditTypes(account.id)).toEqual([]);
  });

  it('links nothing when the browser was signed out before the upstream answered: result=signed_out', async () => {
    const { account, ua } = await person();
    const back = await linkAs(ua, 'late-sub', () => {
      // Gatehouse's session cookies only; the upstream's own (up_*) carry its sign-in page.
      for (const name of [...ua.cookies.keys()]) if (name.includes('session') && !name.startsWith('up_')) ua.cookies.delete(name);
    });
    expect(new URL(back.url).searchParams.get('result')).toBe('signed_out');
    expect(back.html).toContain('Sign in to manage your account');
    expect(await findUpstreamIdentity(db(), UPSTREAM_ID, 'late-sub')).toBeUndefined();
    expect(await listUpstreamIdentities(db(), account.id)).toHaveLength(0);
  });

  it('unlinks for an account that still has its password: audited and mailed', async () => {
    const { account, email, ua } = await person();
    await db().insertInto('upstream_identities').values({ provider: UPSTREAM_ID, subject: `unlink-${account.id}`, account_id: account.id, email: null, last_used_at: null }).execute();
    const page = await security(ua);
    expect(page.html).toContain('<p id="upstream-test-status">Linked</p>');
    expect(page.html).toContain('<button class="secondary" type="submit" aria-describedby="upstream-test-status">Unlink Test IdP</button>');
    const unlinked = await post(ua, page, UNLINK);
    expect(unlinked.status).toBe(303);
    expect(unlinked.headers.get('location')).toBe(`/account/security?upstream=${UPSTREAM_ID}&result=unlinked`);
    const after = await followAcross(ua, `${issuer()}/account/security`, unlinked);
    expect(after.html).toContain('<p id="upstream-result" role="status">Test IdP is unlinked: it no longer signs in to this account.</p>');
    expect(after.html).toContain('<p id="upstream-test-status">Not linked</p>');
    expect(await listUpstreamIdentities(db(), account.id)).toHaveLength(0);
    expect(await auditTypes(account.id)).toEqual([{ type: 'upstream_unlinked', details: { provider: UPSTREAM_ID } }]);
    expect((await mailTo(email)).some((body) => body.includes('Your Test IdP sign-in was unlinked from your account'))).toBe(true);
  });

  it('never unlinks the last way in: an account made by an upstream sign-in (no password, no passkey) keeps its identity', async () => {
    const ua = new UserAgent();
    const login = await followAcross(ua, rawAuthorization(issuer(), { client_id: 'house', redirect_uri: REDIRECT_URI }).url);
    const landed = await signInUpstream(ua, stack_.upstream, await clickUpstream(ua, issuer(), login), 'only-sub');
    expect(landed.url.startsWith(REDIRECT_URI)).toBe(true);
    const account = (await findAccountByEmail(db(), 'only.way.in@example.com'))!;
    expect(account.password_hash).toBeNull();

    const page = await security(ua);
    expect(page.html).toContain('<p id="upstream-test-status">Linked as <strong><bdi>only.way.in@example.com</bdi></strong></p>');
    const refused = await post(ua, page, UNLINK);
    expect(refused.status).toBe(400);
    const html = await refused.text();
    expect(html).toContain('<p class="error" id="upstream-test-error" role="alert">This is the only way you can sign in. Set a password or add a passkey before you unlink Test IdP.</p>');
    expect(html).toContain('aria-describedby="upstream-test-status upstream-test-error"');
    expect((await findUpstreamIdentity(db(), UPSTREAM_ID, 'only-sub'))?.account_id).toBe(account.id);
    expect(await auditTypes(account.id)).toEqual([]);
  });

  it('refuses a Link or Unlink without the CSRF token, or from another site; an unknown provider is 404, a signed-out POST 401', async () => {
    const { account, ua } = await person();
    const requestsBefore = stack_.upstream.authorizationRequests.length;
    expect((await ua.post(`${issuer()}${LINK}`, { password: PASSWORD })).status).toBe(403);
    const crossSite = await ua.request(`${issuer()}${LINK}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
      body: new URLSearchParams({ csrf: inputValue((await security(ua)).html, 'csrf'), password: PASSWORD }).toString(),
    });
    expect(crossSite.status).toBe(403);
    expect(stack_.upstream.authorizationRequests).toHaveLength(requestsBefore);
    expect([...ua.cookies.keys()].some((name) => name.includes('gh_upstream'))).toBe(false);

    await db().insertInto('upstream_identities').values({ provider: UPSTREAM_ID, subject: `csrf-${account.id}`, account_id: account.id, email: null, last_used_at: null }).execute();
    expect((await ua.post(`${issuer()}${UNLINK}`, {})).status).toBe(403);
    expect(await listUpstreamIdentities(db(), account.id)).toHaveLength(1);

    const csrf = inputValue((await security(ua)).html, 'csrf');
    expect((await ua.post(`${issuer()}/account/upstream/nosuch/unlink`, { csrf })).status).toBe(404);
    // The same browser, its Gatehouse session gone: a valid token alone changes nothing.
    for (const name of [...ua.cookies.keys()]) if (name.includes('session') && !name.startsWith('up_')) ua.cookies.delete(name);
    const out = await ua.post(`${issuer()}${UNLINK}`, { csrf });
    expect(out.status).toBe(401);
    expect(await out.text()).toContain('Sign in to manage your account');
    expect(await listUpstreamIdentities(db(), account.id)).toHaveLength(1);
  });
});
