import chromium from '@sparticuz/chromium';
import { chromium as playwright, type Browser } from 'playwright-core';

/**
 * A real headless Chromium that `npm ci` brought itself (@sparticuz/chromium ships it inside the package),
 * so the README's test command needs no download and no apt. CHROMIUM_PATH (e.g. Debian's
 * /usr/bin/chromium) overrides it. The extra flags keep Chromium off the network it cannot reach here.
 */
export async function launchBrowser(): Promise<Browser> {
  const executablePath = process.env.CHROMIUM_PATH || (await chromium.executablePath());
  return playwright.launch({
    executablePath,
    headless: true,
    args: [
      ...chromium.args,
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}
