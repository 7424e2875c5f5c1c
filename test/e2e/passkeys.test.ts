import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser, CDPSession, Page } from 'playwright-core';
import { createAccount } from '../../src/accounts/create-account.ts';
import { upsertClient } from '../../src/storage/postgres/clients.queries.ts';
import { seriousViolations } from '../support/a11y.ts';
import { startTestServer, type TestServer } from '../support/app.ts';
import { launchBrowser } from '../support/browser.ts';
import { startRelyingParty, type RelyingParty } from '../support/relying-party.ts';

const SECRET = 'passkey-e2e-secret-0123456789-0123456789';
const EMAIL = 'key.holder@example.com';
const PASSWORD = 'a passkey and a password';

/**
 * Issue 6 in Chromium with its virtual authenticator (CDP WebAuthn domain): a platform authenticator
 * with discoverable credentials and user verification, as a laptop's or phone's passkey store is. The
 * issuer is http://localhost:PORT: WebAuthn needs a secure context and a domain as RP ID (not an IP).
 * One page per browser (this Chromium build runs single-process, where a second page can hang).
 */
describe('passkeys in Chromium', () => {
  let server: TestServer;
  let rp: RelyingParty;
  let browser: Browser;
  let page: Page;
  let cdp: CDPSession;
  let authenticatorId: string;

  beforeAll(async () => {
    server = await startTestServer({ DATA_DIR: 'memory://' }, { issuerHost: 'localhost' });
    rp = await startRelyingParty(server.issuer, { app: SECRET });
    await upsertClient(server.app.db, 'app', {
      client_id: 'app', client_name: 'Key App', client_secret: SECRET, redirect_uris: [rp.redirectUri],
      grant_types: ['authorization_code'], response_types: ['code'], first_party: true,
    });
    await createAccount(server.app.db, server.app.hasher, { email: EMAIL, password: PASSWORD, emailVerified: true });
    browser = await launchBrowser();
    page = await browser.newPage();
    cdp = await page.context().newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    ({ authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
    }));
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await rp?.close();
    await server?.close();
  });

  /** Starts a fresh sign-in at the RP: no Gatehouse session left from the previous test. */
  async function startAtRp(): Promise<void> {
    await page.context().clearCookies();
    await page.goto(`${rp.url}/login?client=app`);
  }

  const signedInAs = async () => ({
    sub: await page.locator('#sub').textContent(),
    acr: await page.locator('#acr').textContent(),
    amr: await page.locator('#amr').textContent(),
  });

  it('adds a passkey on the security page, behind the current password', async () => {
    await startAtRp();
    await page.getByLabel('Email').fill(EMAIL);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(`${rp.url}/cb**`);

    await page.goto(`${server.issuer}/account/security`);
    const add = page.locator('#add-passkey');
    await add.waitFor({ state: 'visible' }); // shown by passkeys.js once it found WebAuthn
    await expect(page.getByText('Adding a passkey needs JavaScript').isVisible()).resolves.toBe(false);
    expect(await seriousViolations(page)).toEqual([]);
    await add.getByLabel('Name').fill('Test laptop');
    await add.getByLabel('Current password').fill(PASSWORD);
    await add.getByRole('button', { name: 'Add a passkey' }).click();
    await page.getByRole('heading', { name: 'Passkey added' }).waitFor();
    // The first second factor of this account: ten recovery codes, shown this once (MFA-05).
    await expect(page.locator('#recovery-codes li').count()).resolves.toBe(10);
    expect(await seriousViolations(page)).toEqual([]);

    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    expect(credentials).toHaveLength(1);
    expect(credentials[0]!.isResidentCredential).toBe(true);
    expect(credentials[0]!.rpId).toBe('localhost');
    await page.goto(`${server.issuer}/account/security`);
    await expect(page.locator('#passkeys').textContent()).resolves.toContain('Test laptop');
  });

  it('signs in with the password and then the passkey as the second factor', async () => {
    await startAtRp();
    await page.getByLabel('Email').fill(EMAIL);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    const usePasskey = page.getByRole('button', { name: 'Use a passkey' });
    await usePasskey.waitFor({ state: 'visible' });
    expect(await seriousViolations(page)).toEqual([]);
    await usePasskey.click();
    await page.waitForURL(`${rp.url}/cb**`);
    // The virtual authenticator is a platform (device-bound) authenticator: hwk.
    await expect(signedInAs()).resolves.toMatchObject({ acr: 'urn:gatehouse:loa:mfa', amr: 'pwd hwk mfa' });
  });

  it('signs in with the passkey alone (user verification on the device)', async () => {
    await startAtRp();
    const passwordless = page.getByRole('button', { name: 'Sign in with a passkey' });
    await passwordless.waitFor({ state: 'visible' });
    await passwordless.click();
    await page.waitForURL(`${rp.url}/cb**`);
    const claims = await signedInAs();
    expect(claims).toMatchObject({ acr: 'urn:gatehouse:loa:mfa', amr: 'hwk mfa' });
    expect(claims.sub).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('a passkey the device will not verify leaves the sign-in page usable and says so', async () => {
    await cdp.send('WebAuthn.setUserVerified', { authenticatorId, isUserVerified: false });
    try {
      await startAtRp();
      await page.getByRole('button', { name: 'Sign in with a passkey', exact: true }).click();
      // The authenticator refuses (no user verification): the script says so and submits nothing.
      await page.locator('#passkey-sign-in [data-passkey-status]').filter({ hasText: 'No passkey was used' }).waitFor();
      expect(page.url()).toContain('/interaction/');
      await expect(page.getByLabel('Email').isVisible()).resolves.toBe(true);
    } finally {
      await cdp.send('WebAuthn.setUserVerified', { authenticatorId, isUserVerified: true });
    }
  });
});
