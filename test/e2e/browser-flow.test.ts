import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser, Page } from 'playwright-core';
import { createAccount } from '../../src/accounts/create-account.ts';
import { upsertClient } from '../../src/storage/postgres/clients.queries.ts';
import { startTestServer, type TestServer } from '../support/app.ts';
import { launchBrowser } from '../support/browser.ts';
import { startRelyingParty, type RelyingParty } from '../support/relying-party.ts';

const SECRET = 'browser-flow-secret-0123456789-0123456789';
const EMAIL = 'walker@example.com';
const PASSWORD = 'walks through every page';

/**
 * The whole journey in a real browser against a real RP (openid-client): sign in with the keyboard,
 * consent, SSO into a second client, then RP-initiated logout that ends the session for both.
 */
describe('code flow in Chromium: sign-in, consent, SSO to a second client, sign-out', () => {
  let server: TestServer;
  let rp: RelyingParty;
  let browser: Browser;
  let page: Page;
  const cspViolations: string[] = [];

  beforeAll(async () => {
    server = await startTestServer({ DATA_DIR: 'memory://' });
    rp = await startRelyingParty(server.issuer, { alpha: SECRET, beta: SECRET });
    for (const [id, name] of [['alpha', 'Alpha'], ['beta', 'Beta']] as const) {
      await upsertClient(server.app.db, id, {
        client_id: id, client_name: name, client_secret: SECRET, redirect_uris: [rp.redirectUri],
        post_logout_redirect_uris: [rp.postLogoutUri], grant_types: ['authorization_code'], response_types: ['code'],
      });
    }
    await createAccount(server.app.db, server.app.hasher, { email: EMAIL, password: PASSWORD, emailVerified: true });
    browser = await launchBrowser();
    page = await browser.newPage();
    page.on('console', (message) => {
      if (message.text().includes('Content Security Policy')) cspViolations.push(message.text());
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await rp?.close();
    await server?.close();
  });

  it('signs in to the first client using only the keyboard, then consents', async () => {
    await page.goto(`${rp.url}/login?client=alpha`);
    await expect(page.getByRole('heading', { name: 'Sign in' }).isVisible()).resolves.toBe(true);
    // The email field has focus on arrival; everything else is Tab, typing and Enter.
    await page.keyboard.type(EMAIL);
    await page.keyboard.press('Tab');
    await page.keyboard.type(PASSWORD);
    await page.keyboard.press('Enter');
    const allow = page.getByRole('button', { name: 'Allow' });
    await allow.waitFor();
    await expect(page.getByRole('heading').textContent()).resolves.toContain('Alpha');
    await allow.focus();
    await page.keyboard.press('Enter');
    await page.waitForURL(`${rp.url}/cb**`);
    await expect(page.locator('#sub').textContent()).resolves.toMatch(/^[0-9a-f-]{36}$/);
  });

  it('reaches the second client without a password (SSO), asking only for consent', async () => {
    const firstSub = await page.locator('#sub').textContent();
    await page.goto(`${rp.url}/login?client=beta`);
    await page.getByRole('button', { name: 'Allow' }).waitFor();
    await expect(page.locator('input[name="password"]').count()).resolves.toBe(0);
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL(`${rp.url}/cb**`);
    await expect(page.locator('#sub').textContent()).resolves.toBe(firstSub);
  });

  it('signs out through RP-initiated logout (valid id_token_hint: no extra click) and the session is gone', async () => {
    await page.goto(`${rp.url}/logout?client=beta`);
    await page.waitForURL(`${rp.url}/bye`);
    await page.goto(`${rp.url}/login?client=alpha&prompt=none`);
    await page.waitForURL(`${rp.url}/cb**`);
    await expect(page.locator('#error').textContent()).resolves.toBe('login_required');
    expect(cspViolations).toEqual([]);
  });
});
