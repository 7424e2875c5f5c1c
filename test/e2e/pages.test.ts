import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { seedDemo, type DemoCredentials } from '../../src/demo/seed.ts';
import { directionOf, type Locale } from '../../src/i18n/locales.ts';
import { translator } from '../../src/i18n/translate.ts';
import { screenshot, scrollWidthAt320, seriousViolations, textBox } from '../support/a11y.ts';
import { startTestServer, type TestServer } from '../support/app.ts';
import { launchBrowser } from '../support/browser.ts';
import { rawAuthorization } from '../support/forms.ts';

/** What a browser whose user reads `locale` sends (ar-EG: a region we do not list must still match). */
const ACCEPT_LANGUAGE: Record<Locale, string> = { en: 'en-US,en;q=0.9', ar: 'ar-EG,ar;q=0.9,en;q=0.5' };

/**
 * Every page a user sees, in English and Arabic, in a real Chromium: no serious or critical axe-core
 * violation, the right lang/dir, no horizontal scrolling at 320 px, no CSP violation, keyboard-only
 * sign-in. Screenshots land in artifacts/screenshots/<page>-<lang>.png for a human to check.
 */
describe.each(['en', 'ar'] as const)('pages in %s', (locale) => {
  const t = translator(locale);
  let server: TestServer;
  let demo: DemoCredentials;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const cspViolations: string[] = [];

  beforeAll(async () => {
    server = await startTestServer({ DATA_DIR: 'memory://', SEED_DEMO: 'true' });
    demo = await seedDemo(server.app.db, server.config, server.app.hasher);
    browser = await launchBrowser();
    // The browser says English: on the interaction pages only the application's ui_locales makes them Arabic.
    context = await browser.newContext({ extraHTTPHeaders: { 'accept-language': ACCEPT_LANGUAGE.en }, viewport: { width: 1024, height: 768 } });
    page = await context.newPage();
    page.on('console', (message) => {
      if (message.text().includes('Content Security Policy')) cspViolations.push(message.text());
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  /** The checks every page gets, then its screenshot. */
  async function checkPage(name: string): Promise<void> {
    await expect(page.locator('html').getAttribute('lang')).resolves.toBe(locale);
    await expect(page.locator('html').getAttribute('dir')).resolves.toBe(directionOf(locale));
    expect(await seriousViolations(page)).toEqual([]);
    expect(await scrollWidthAt320(page)).toBeLessThanOrEqual(320);
    await page.setViewportSize({ width: 360, height: 720 });
    await screenshot(page, `${name}-${locale}`);
    await page.setViewportSize({ width: 1024, height: 768 });
  }

  const activeId = () => page.evaluate<string>('document.activeElement.id');

  it('sign-in page: accessible, in the language of ui_locales, mirrored for Arabic', async () => {
    const { url } = rawAuthorization(server.issuer, {
      client_id: demo.clientId,
      redirect_uri: `${server.issuer}/demo/callback`,
      scope: 'openid email profile',
      ...(locale === 'ar' ? { ui_locales: 'fr-CA ar' } : {}),
    });
    await page.goto(url);
    await page.getByRole('heading', { name: t('login.heading') }).waitFor();
    await checkPage('sign-in');

    // The label sits at the field's start edge: the right one in Arabic, the left one in English.
    const field = (await page.locator('#email').boundingBox())!;
    const label = await textBox(page, 'label[for=email]');
    const [start, end] = locale === 'ar' ? [label.right, field.x + field.width] : [label.left, field.x];
    expect(Math.abs(start - end)).toBeLessThanOrEqual(2);
    expect(label.right - label.left).toBeLessThan(field.width / 2);
    // The submit button starts the row at the same edge.
    const submit = (await page.getByRole('button', { name: t('login.submit'), exact: true }).boundingBox())!;
    if (locale === 'ar') expect(Math.abs(submit.x + submit.width - (field.x + field.width))).toBeLessThanOrEqual(2);
    else expect(Math.abs(submit.x - field.x)).toBeLessThanOrEqual(2);
  });

  it('sign-in with an error: announced, linked to the fields, accessible', async () => {
    // Keyboard only: the email field has focus on arrival.
    expect(await activeId()).toBe('email');
    await page.keyboard.type(demo.email);
    await page.keyboard.press('Tab');
    expect(await activeId()).toBe('password');
    await page.keyboard.type('not the password');
    await page.keyboard.press('Enter');
    const alert = page.getByRole('alert');
    await expect(alert.textContent()).resolves.toBe(t('login.failed'));
    await expect(alert.getAttribute('id')).resolves.toBe('form-error');
    for (const id of ['email', 'password']) {
      await expect(page.locator(`#${id}`).getAttribute('aria-describedby')).resolves.toBe('form-error');
      await expect(page.locator(`#${id}`).getAttribute('aria-invalid')).resolves.toBe('true');
    }
    await checkPage('sign-in-error');
  });

  it('keyboard-only sign-in reaches the consent page, still in the same language', async () => {
    // After a failed attempt the email is kept and the password field has focus.
    expect(await activeId()).toBe('password');
    await page.keyboard.type(demo.password);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: t('consent.heading', { name: 'Gatehouse demo app' }) }).waitFor();
    await expect(page.locator('ul.scopes').textContent()).resolves.toContain(t('scope.email'));
    await checkPage('consent');
    // Allow is the first control after the sign-out link: Tab there, press Enter.
    await page.getByRole('link', { name: t('consent.notYou') }).focus();
    await page.keyboard.press('Tab');
    await expect(page.evaluate<string>('document.activeElement.textContent')).resolves.toBe(t('consent.allow'));
    await page.keyboard.press('Enter');
    await page.waitForURL(`${server.issuer}/demo`);
  });

  it('sign-out confirmation and signed-out pages follow Accept-Language', async () => {
    await page.setExtraHTTPHeaders({ 'accept-language': ACCEPT_LANGUAGE[locale] });
    await page.goto(`${server.issuer}/session/end`);
    await page.getByRole('heading', { name: t('logout.heading') }).waitFor();
    await checkPage('sign-out');
    // The confirm button has focus: Enter signs out.
    await expect(page.evaluate<string>('document.activeElement.textContent')).resolves.toBe(t('logout.confirm'));
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: t('loggedOut.heading') }).waitFor();
    await checkPage('signed-out');
  });

  it("error pages (oidc-provider's and ours) follow Accept-Language", async () => {
    await page.goto(`${server.issuer}/auth?client_id=unknown&response_type=code&scope=openid`);
    await expect(page.getByRole('alert').textContent()).resolves.toBe(t('errors.invalid_client'));
    await expect(page.locator('code').first().textContent()).resolves.toBe('invalid_client');
    await checkPage('error');

    await page.goto(`${server.issuer}/interaction/gone`);
    await expect(page.getByRole('alert').textContent()).resolves.toBe(t('errors.interaction_expired'));
    await checkPage('expired');
  });

  it('no page broke the Content-Security-Policy', () => {
    expect(cspViolations).toEqual([]);
  });
});
