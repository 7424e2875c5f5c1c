import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser, Page } from 'playwright-core';
import { directionOf } from '../../src/i18n/locales.ts';
import { screenshot, scrollWidthAt320, seriousViolations } from '../support/a11y.ts';
import { startTestServer, type TestServer } from '../support/app.ts';
import { launchBrowser } from '../support/browser.ts';

/** The account pages (register, forgot, link expired, with field errors) pass the same bar as the sign-in pages. */
describe.each(['en', 'ar'] as const)('account pages in %s', (locale) => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    server = await startTestServer({ DATA_DIR: 'memory://' });
    browser = await launchBrowser();
    const context = await browser.newContext({ extraHTTPHeaders: { 'accept-language': locale }, viewport: { width: 1024, height: 768 } });
    page = await context.newPage();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  async function check(name: string): Promise<void> {
    await expect(page.locator('html').getAttribute('dir')).resolves.toBe(directionOf(locale));
    expect(await seriousViolations(page)).toEqual([]);
    expect(await scrollWidthAt320(page)).toBeLessThanOrEqual(320);
    await page.setViewportSize({ width: 360, height: 720 });
    await screenshot(page, `${name}-${locale}`);
    await page.setViewportSize({ width: 1024, height: 768 });
  }

  it.each([
    ['register', '/register'],
    ['forgot-password', '/forgot-password'],
    ['reset-link-expired', '/reset-password'],
    ['verify-link-expired', '/verify-email'],
    ['account-signed-out', '/account'],
    ['account-security-signed-out', '/account/security'],
  ])('%s', async (name, path) => {
    await page.goto(`${server.issuer}${path}`);
    await check(name);
  });

  it('register with field errors: announced and linked to their fields', async () => {
    await page.goto(`${server.issuer}/register`);
    await page.locator('#name').fill('Someone');
    await page.locator('#email').fill('not an email');
    await page.locator('#password').fill('short');
    await page.locator('button[type=submit]').click();
    await page.locator('#password-error').waitFor();
    await expect(page.locator('#password').getAttribute('aria-describedby')).resolves.toContain('password-error');
    await expect(page.locator('#email').getAttribute('aria-invalid')).resolves.toBe('true');
    await check('register-errors');
  });
});
