import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { generate } from 'otplib';
import type { Browser, Page } from 'playwright-core';
import { createAccount } from '../../src/accounts/create-account.ts';
import { ACR } from '../../src/oidc/acr.ts';
import { upsertClient } from '../../src/storage/postgres/clients.queries.ts';
import { seriousViolations } from '../support/a11y.ts';
import { startTestServer, type TestServer } from '../support/app.ts';
import { launchBrowser } from '../support/browser.ts';
import { startRelyingParty, type RelyingParty } from '../support/relying-party.ts';

const SECRET = 'two-step-secret-0123456789-0123456789-ab';
const EMAIL = 'phone.owner@example.com';
const PASSWORD = 'my phone is my second factor';

/**
 * Issue 6 in Chromium: enrol an authenticator app from the account security page by reading the
 * otpauth:// link on the setup page, save the recovery codes (copy and download), then sign in to a real
 * RP with password + code. The server's clock is frozen and moved a step at a time,
 * so codes never straddle a 30 s boundary.
 */
describe('two-step verification in Chromium', () => {
  let server: TestServer;
  let rp: RelyingParty;
  let browser: Browser;
  let page: Page;
  let offset = 0;
  const base = Date.now();
  const clock = () => base + offset;
  let secret = '';

  beforeAll(async () => {
    server = await startTestServer({ DATA_DIR: 'memory://' }, { clock });
    rp = await startRelyingParty(server.issuer, { app: SECRET });
    await upsertClient(server.app.db, 'app', {
      client_id: 'app', client_name: 'Phone App', client_secret: SECRET, redirect_uris: [rp.redirectUri],
      grant_types: ['authorization_code'], response_types: ['code'], first_party: true,
    });
    await createAccount(server.app.db, server.app.hasher, { email: EMAIL, password: PASSWORD, emailVerified: true });
    browser = await launchBrowser();
    page = await browser.newPage();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await rp?.close();
    await server?.close();
  });

  const code = () => generate({ secret, epoch: Math.floor(clock() / 1000) });

  it('enrols from the account security page using the otpauth:// link', async () => {
    await page.goto(`${rp.url}/login?client=app`);
    await page.getByLabel('Email').fill(EMAIL);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(`${rp.url}/cb**`);

    await page.goto(`${server.issuer}/account`);
    await page.getByRole('link', { name: 'Manage sign-in security' }).click();
    await page.waitForURL(`${server.issuer}/account/security`);
    await expect(page.getByRole('region', { name: 'Two-step verification' }).isVisible()).resolves.toBe(true);
    await expect(page.locator('#two-step-status').textContent()).resolves.toMatch(/^Two-step verification is off/);
    expect(await seriousViolations(page)).toEqual([]);
    const setUp = page.locator('form[action="/account/totp/start"]');
    await setUp.locator('input[type=password]').fill(PASSWORD);
    await setUp.getByRole('button').click();
    const link = await page.locator('a[href^="otpauth://"]').getAttribute('href');
    secret = new URL(link!).searchParams.get('secret')!;
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(await seriousViolations(page)).toEqual([]);
    await page.getByLabel('Code from your authenticator app').fill(await code());
    await page.getByRole('button', { name: 'Turn on two-step verification' }).click();
    await expect(page.getByRole('heading', { name: 'Two-step verification is on' }).isVisible()).resolves.toBe(true);
    // MFA-05: ten recovery codes, shown this once.
    await expect(page.locator('#recovery-codes li').count()).resolves.toBe(10);
    expect(await seriousViolations(page)).toEqual([]);
  });

  it('copies the recovery codes with the Copy button, announced, and downloads the same codes', async () => {
    const codes = (await page.locator('#recovery-codes code').allTextContents()).map((code) => code.trim());
    expect(codes).toHaveLength(10);
    // The button is hidden in the markup; the nonce'd script (our CSP allows no other) shows it.
    const copy = page.getByRole('button', { name: 'Copy codes' });
    await copy.waitFor();
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.issuer });
    await copy.click();
    await expect(page.getByRole('status').filter({ hasText: 'Copied' }).waitFor()).resolves.toBeUndefined();
    await expect(page.evaluate<string>('navigator.clipboard.readText()')).resolves.toBe(`${codes.join('\n')}\n`);

    // The data: URL is a download the CSP lets through, saved under its own name, holding the same codes.
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download codes' }).click()]);
    expect(download.suggestedFilename()).toBe('gatehouse-recovery-codes.txt');
    const lines = (await readFile((await download.path())!, 'utf8')).split('\n');
    expect(lines[0]).toMatch(new RegExp(`^Recovery codes for ${new URL(server.issuer).host}, made \\d{4}-\\d{2}-\\d{2}\\.`));
    expect(lines.slice(1)).toEqual([...codes, '']);
    expect(await seriousViolations(page)).toEqual([]);

    await page.getByRole('link', { name: 'Back to sign-in security' }).click();
    await expect(page.locator('#two-step-status').textContent()).resolves.toMatch(/^Two-step verification is on/);
    expect(await seriousViolations(page)).toEqual([]);
  });

  it('steps up the password-only session when the RP asks for MFA: the code, not the password again', async () => {
    offset += 30_000; // the enrolment code is spent: the next step's code
    // The session from the first test was made with the password alone, before the app was enrolled.
    await page.goto(`${rp.url}/login?client=app&acr_values=${encodeURIComponent(ACR.mfa)}`);
    await page.getByLabel('Verification code').waitFor();
    await expect(page.getByLabel('Password', { exact: true }).count()).resolves.toBe(0);
    await page.getByLabel('Verification code').fill(await code());
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.waitForURL(`${rp.url}/cb**`);
    await expect(page.locator('#acr').textContent()).resolves.toBe(ACR.mfa);
    await expect(page.locator('#amr').textContent()).resolves.toBe('pwd otp mfa');
  });

  it('signs in with the password and then a code from the app', async () => {
    offset += 30_000; // the enrolment code is spent: the next step's code
    // A fresh start: no Gatehouse session left from the enrolment (one page: this Chromium build runs
    // single-process, where a second page can hang).
    await page.context().clearCookies();
    await page.goto(`${rp.url}/login?client=app`);
    await page.getByLabel('Email').fill(EMAIL);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByLabel('Verification code').waitFor();
    expect(await seriousViolations(page)).toEqual([]);
    await page.getByLabel('Verification code').fill(await code());
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.waitForURL(`${rp.url}/cb**`);
    await expect(page.locator('#sub').textContent()).resolves.toMatch(/^[0-9a-f-]{36}$/);
  });
});
