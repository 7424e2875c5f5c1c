import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser } from 'playwright-core';
import { seedDemo, type DemoCredentials } from '../../src/demo/seed.ts';
import { startTestServer, type TestServer } from '../support/app.ts';
import { launchBrowser } from '../support/browser.ts';

/** The newcomer's path in a real browser: the built-in demo app signs in through Gatehouse and shows the ID token. */
describe('demo sign-in in Chromium', () => {
  let server: TestServer;
  let browser: Browser;
  let demo: DemoCredentials;

  beforeAll(async () => {
    server = await startTestServer({ DATA_DIR: 'memory://', SEED_DEMO: 'true' });
    demo = await seedDemo(server.app.db, server.config, server.app.hasher);
    browser = await launchBrowser();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('signs in with the keyboard-usable form, consents, and lands on the demo app with validated claims', async () => {
    const page = await browser.newPage();
    await page.goto(`${server.issuer}/demo`);
    await page.getByRole('link', { name: 'Sign in with Gatehouse' }).click();

    await expect(page.getByRole('heading', { name: 'Sign in' }).isVisible()).resolves.toBe(true);
    await page.getByLabel('Email').fill(demo.email);
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toContain('Email or password is incorrect.');
    // The email survives a failed attempt; the password never comes back.
    await expect(page.getByLabel('Email').inputValue()).resolves.toBe(demo.email);
    await expect(page.getByLabel('Password').inputValue()).resolves.toBe('');

    await page.getByLabel('Password').fill(demo.password);
    await page.getByLabel('Password').press('Enter');
    await page.getByRole('button', { name: 'Allow' }).click();

    await page.waitForURL(`${server.issuer}/demo/callback**`);
    const claims = JSON.parse((await page.locator('#claims').textContent())!) as Record<string, unknown>;
    expect(claims.iss).toBe(server.issuer);
    expect(claims.aud).toBe('gatehouse-demo');
    await page.close();
  });
});
