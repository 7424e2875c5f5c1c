import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser, Page } from 'playwright-core';
import { nextMailTo, tokenLink } from '../support/accounts.ts';
import { screenshot, seriousViolations } from '../support/a11y.ts';
import { startTestServer, type TestServer } from '../support/app.ts';
import { launchBrowser } from '../support/browser.ts';
import { startRelyingParty, type RelyingParty } from '../support/relying-party.ts';
import { upsertClient } from '../../src/storage/postgres/clients.queries.ts';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.ts';

const SECRET = 'journey-secret-0123456789-0123456789-abc';
const EMAIL = 'journey@example.com';

/**
 * The account journeys a person makes, in Chromium, with mail through a real SMTP server: register,
 * follow the mailed link, sign in to an app; forget the password, follow the reset link, sign in with
 * the new one. The RP is real (openid-client).
 */
describe('account journeys in Chromium', () => {
  let sink: SmtpSink;
  let server: TestServer;
  let rp: RelyingParty;
  let browser: Browser;
  let page: Page;
  const referers: string[] = [];

  beforeAll(async () => {
    sink = await startSmtpSink();
    server = await startTestServer({ DATA_DIR: 'memory://', SMTP_URL: sink.url });
    rp = await startRelyingParty(server.issuer, { app: SECRET });
    await upsertClient(server.app.db, 'app', {
      client_id: 'app', client_name: 'Journey App', client_secret: SECRET, redirect_uris: [rp.redirectUri],
      post_logout_redirect_uris: [rp.postLogoutUri], grant_types: ['authorization_code'], response_types: ['code'], first_party: true,
    });
    browser = await launchBrowser();
    page = await browser.newPage();
    page.on('request', (request) => {
      const referer = request.headers().referer;
      if (referer) referers.push(referer);
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await rp?.close();
    await server?.close();
    await sink?.close();
  });

  async function signInAtRp(password: string): Promise<void> {
    await page.goto(`${rp.url}/login?client=app&prompt=login`);
    await page.getByLabel('Email').fill(EMAIL);
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(`${rp.url}/cb**`);
  }

  it('registers from the sign-in page, confirms the address from the mail, and signs in', async () => {
    await page.goto(`${rp.url}/login?client=app`);
    await page.getByRole('link', { name: 'Create an account' }).click();
    await page.getByLabel('Name').fill('Journey Walker');
    await page.getByLabel('Email').fill(EMAIL);
    await page.getByLabel('Password').fill('my first long passphrase');
    const seen = sink.messages.length;
    await page.getByRole('button', { name: 'Create account' }).click();
    await expect(page.getByRole('heading', { name: 'Check your email' }).isVisible()).resolves.toBe(true);

    const link = tokenLink(await nextMailTo(sink, server, EMAIL, seen));
    await page.goto(link);
    expect(page.url()).toBe(`${server.issuer}/verify-email`); // the token left the address bar
    await page.getByRole('button', { name: 'Confirm my address' }).click();
    await expect(page.getByRole('heading', { name: 'Your email address is confirmed' }).isVisible()).resolves.toBe(true);

    await signInAtRp('my first long passphrase');
    await expect(page.locator('#sub').textContent()).resolves.toMatch(/^[0-9a-f-]{36}$/);
  });

  it('resets a forgotten password from the sign-in page and signs in with the new one', async () => {
    await page.goto(`${rp.url}/login?client=app&prompt=login`);
    await page.getByRole('link', { name: 'Forgot your password?' }).click();
    await page.getByLabel('Email').fill(EMAIL);
    const seen = sink.messages.length;
    await page.getByRole('button', { name: 'Send the link' }).click();
    await expect(page.getByRole('heading', { name: 'Check your email' }).isVisible()).resolves.toBe(true);

    const link = tokenLink(await nextMailTo(sink, server, EMAIL, seen));
    const token = new URL(link).searchParams.get('token')!;
    await page.goto(link);
    expect(page.url()).toBe(`${server.issuer}/reset-password`);
    await page.getByLabel('New password').fill('my second long passphrase');
    await page.getByRole('button', { name: 'Save the new password' }).click();
    await expect(page.getByRole('heading', { name: 'Your password has been changed' }).isVisible()).resolves.toBe(true);
    // REC-04: no request the page made carried the token in its Referer.
    expect(referers.filter((referer) => referer.includes(token))).toEqual([]);

    await signInAtRp('my second long passphrase');
    await expect(page.locator('#sub').textContent()).resolves.toMatch(/^[0-9a-f-]{36}$/);
  });

  it('shows the signed-in account page, accessible, with both change forms', async () => {
    await page.goto(`${server.issuer}/account`);
    await expect(page.getByText(EMAIL).first().isVisible()).resolves.toBe(true);
    await expect(page.locator('form[action="/account/password"]').count()).resolves.toBe(1);
    await expect(page.locator('form[action="/account/email"]').count()).resolves.toBe(1);
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'account-en');
  });
});
