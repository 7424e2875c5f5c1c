import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser, Page } from 'playwright-core';
import { createAccount } from '../../src/accounts/create-account.ts';
import { findAccountByEmail } from '../../src/storage/postgres/accounts.queries.ts';
import { upsertClient } from '../../src/storage/postgres/clients.queries.ts';
import { findUpstreamIdentity, listUpstreamIdentities } from '../../src/storage/postgres/upstream-identities.queries.ts';
import { scrollWidthAt320, seriousViolations } from '../support/a11y.ts';
import { launchBrowser } from '../support/browser.ts';
import { stacks, type StackEnv } from '../support/e2e.ts';
import { startRelyingParty, type RelyingParty } from '../support/relying-party.ts';
import { startUpstreamStack, UPSTREAM_NAME, type UpstreamStack } from '../support/upstream-journey.ts';

const CLIENT = 'upstream-rp';
const SECRET = 'upstream-browser-secret-0123456789-abcdef';
const LOCAL = { email: 'local.owner@example.com', password: 'the local owner knows this one' };
/**
 * Gatehouse puts scope claims at userinfo only (conformIdTokenClaims); a relying party that wants the email in
 * the ID token asks for it with the standard claims request parameter (OIDC Core §5.5).
 */
const ID_TOKEN_EMAIL = JSON.stringify({ id_token: { email: { essential: true }, email_verified: null } });

interface IdTokenClaims {
  sub: string;
  email?: string;
  email_verified?: boolean;
  amr?: string[];
  acr?: string;
}

// One browser, a fresh context per journey. Contexts are not closed one by one: @sparticuz/chromium runs
// --single-process, where closing a context takes the whole browser down; browser.close() ends them all.
let browser: Browser;

beforeAll(async () => {
  browser = await launchBrowser();
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

/**
 * Issue 12's done-when, in a real Chromium: a relying party (openid-client: PKCE, state and nonce checked)
 * → Gatehouse's sign-in page → "Sign in with Test IdP" → the upstream's own page (a real oidc-provider) →
 * back through Gatehouse → the relying party's callback, whose validated ID token is read off its page.
 */
describe.each(stacks)('sign-in through an upstream provider in Chromium ($name)', (stack) => {
  let backend: StackEnv;
  let stack_: UpstreamStack;
  let rp: RelyingParty;
  const db = () => stack_.server.app.db;
  const upstreamLink = (page: Page) => page.getByRole('link', { name: `Sign in with ${UPSTREAM_NAME}` });
  const accountCount = async () => (await db().selectFrom('accounts').select('id').execute()).length;

  beforeAll(async () => {
    backend = await stack.setup();
    stack_ = await startUpstreamStack({ ...backend.env, REGISTRATION: 'open' });
    rp = await startRelyingParty(stack_.server.issuer, { [CLIENT]: SECRET });
    // First party: no consent page, so the relying party's callback follows Gatehouse's sign-in directly.
    await upsertClient(db(), CLIENT, {
      client_id: CLIENT, client_name: 'Upstream RP', client_secret: SECRET, redirect_uris: [rp.redirectUri],
      grant_types: ['authorization_code'], response_types: ['code'], first_party: true,
    });
    await createAccount(db(), stack_.server.app.hasher, { ...LOCAL, emailVerified: true });
    const users = stack_.upstream.users;
    users.set('upstream-newcomer', { email: 'newcomer@example.com', email_verified: true, name: 'New Comer' });
    users.set('upstream-owner', { email: LOCAL.email, email_verified: true });
    users.set('upstream-no-script', { email: 'no.script@example.com', email_verified: true });
  }, 60_000);

  afterAll(async () => {
    await rp?.close();
    await stack_?.close();
    await backend?.cleanup();
  });

  /** The relying party starts a sign-in that asks for the email in the ID token; lands on Gatehouse's sign-in page. */
  async function startAtRelyingParty(page: Page): Promise<void> {
    await page.goto(`${rp.url}/login?client=${CLIENT}&claims=${encodeURIComponent(ID_TOKEN_EMAIL)}`);
    await expect(page.getByRole('heading', { name: 'Sign in', exact: true }).isVisible()).resolves.toBe(true);
  }

  /** Waits for the relying party's callback and returns the ID token claims it validated (or its failure, loudly). */
  async function claimsAtRelyingParty(page: Page): Promise<IdTokenClaims> {
    await page.waitForURL(`${rp.url}/cb**`);
    const failure = await page.locator('#failure').count();
    if (failure) throw new Error(`the relying party refused the response: ${await page.locator('#failure').textContent()}`);
    return JSON.parse((await page.locator('#claims').textContent())!) as IdTokenClaims;
  }

  /** On the upstream's own page: types the subject and clicks its "Sign in". */
  async function signInAtUpstream(page: Page, sub: string): Promise<void> {
    await page.waitForURL(`${stack_.upstream.issuer}/interaction/**`);
    await page.getByLabel('Subject').fill(sub);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  }

  it('creates an account on first use and signs straight in on the second; the ID token carries the Gatehouse sub and the verified email', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const cspViolations: string[] = [];
    page.on('console', (message) => {
      if (message.text().includes('Content Security Policy')) cspViolations.push(message.text());
    });
    const accountsBefore = await accountCount();

    await startAtRelyingParty(page);
    expect(await seriousViolations(page)).toEqual([]);
    expect(await scrollWidthAt320(page)).toBeLessThanOrEqual(320);
    // Reached and followed with the keyboard like any other link.
    await upstreamLink(page).focus();
    await page.keyboard.press('Enter');
    await signInAtUpstream(page, 'upstream-newcomer');
    const first = await claimsAtRelyingParty(page);

    const account = (await findAccountByEmail(db(), 'newcomer@example.com'))!;
    expect(account).toMatchObject({ email_verified: true, name: 'New Comer' });
    expect(first.sub).toBe(account.id);
    expect(first.sub).not.toBe('upstream-newcomer');
    expect(first.email).toBe('newcomer@example.com');
    expect(first.email_verified).toBe(true);
    expect(first.amr).toEqual(['fed']);
    expect(first.acr).toBe('urn:gatehouse:loa:fed');
    expect(await accountCount()).toBe(accountsBefore + 1);

    // The second time is a new sign-in at Gatehouse (its cookies gone: another visit, signed out) while the
    // upstream still knows this browser (its up_* cookies kept), as Google would: the provider's link comes
    // straight back, through the upstream but without its form.
    await context.clearCookies({ name: /^gh_/ });
    expect((await context.cookies()).some((cookie) => cookie.name.startsWith('up_'))).toBe(true);
    const upstreamForm = `${stack_.upstream.issuer}/interaction/`;
    const upstreamPages: string[] = [];
    page.on('request', (request) => {
      if (request.isNavigationRequest() && request.url().startsWith(upstreamForm)) upstreamPages.push(request.url());
    });
    const upstreamRequestsBefore = stack_.upstream.authorizationRequests.length;
    await startAtRelyingParty(page);
    await upstreamLink(page).click();
    // Wherever it stops first: the relying party, or (wrongly) the upstream's form.
    await page.waitForURL((url) => url.href.startsWith(`${rp.url}/cb`) || url.href.startsWith(upstreamForm));
    expect(upstreamPages).toEqual([]);
    const second = await claimsAtRelyingParty(page);

    expect(stack_.upstream.authorizationRequests.length).toBe(upstreamRequestsBefore + 1);
    expect(second).toMatchObject({ sub: account.id, email: 'newcomer@example.com', email_verified: true, amr: ['fed'] });
    expect(await accountCount()).toBe(accountsBefore + 1);
    expect(await listUpstreamIdentities(db(), account.id)).toHaveLength(1);
    expect(cspViolations).toEqual([]);
  });

  it('sends an upstream user whose email is a local account\'s to "This email already has an account"; its password links and signs in', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const local = (await findAccountByEmail(db(), LOCAL.email))!;

    await startAtRelyingParty(page);
    await upstreamLink(page).click();
    await signInAtUpstream(page, 'upstream-owner');
    await page.getByRole('heading', { name: 'This email already has an account' }).waitFor();
    expect(page.url()).toMatch(new RegExp(`^${stack_.server.issuer}/interaction/[^/]+$`));
    expect(await seriousViolations(page)).toEqual([]);
    expect(await scrollWidthAt320(page)).toBeLessThanOrEqual(320);
    expect(await findUpstreamIdentity(db(), 'test', 'upstream-owner')).toBeUndefined();

    await page.getByLabel('Password of the account').fill('not the local password at all');
    await page.getByRole('button', { name: 'Link and sign in' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toContain('That password is not this account’s.');
    expect(await seriousViolations(page)).toEqual([]);
    expect(await findUpstreamIdentity(db(), 'test', 'upstream-owner')).toBeUndefined();

    await page.getByLabel('Password of the account').fill(LOCAL.password);
    await page.getByRole('button', { name: 'Link and sign in' }).click();
    const claims = await claimsAtRelyingParty(page);
    expect(claims).toMatchObject({ sub: local.id, email: LOCAL.email, email_verified: true, amr: ['pwd'] });
    expect((await findUpstreamIdentity(db(), 'test', 'upstream-owner'))?.account_id).toBe(local.id);
  });

  it('works with JavaScript turned off: links, forms and redirects only', async () => {
    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();

    await startAtRelyingParty(page);
    await upstreamLink(page).click();
    await signInAtUpstream(page, 'upstream-no-script');
    const claims = await claimsAtRelyingParty(page);

    const account = (await findAccountByEmail(db(), 'no.script@example.com'))!;
    expect(claims).toMatchObject({ sub: account.id, email: 'no.script@example.com', email_verified: true, amr: ['fed'] });
  });
});
