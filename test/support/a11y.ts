import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import axe from 'axe-core';
import type { Page } from 'playwright-core';

/** Where page screenshots go for a human to look at (git-ignored). */
export const screenshotsDir = fileURLToPath(new URL('../../artifacts/screenshots/', import.meta.url));

export interface Violation {
  id: string;
  impact: string | null | undefined;
  help: string;
  targets: string[];
}

/**
 * Runs axe-core inside the page. page.evaluate goes through the DevTools protocol, which the page's
 * Content-Security-Policy does not govern, so the app's CSP stays exactly as strict as in production.
 * Strings rather than functions: the tests compile without the DOM lib.
 */
export async function seriousViolations(page: Page): Promise<Violation[]> {
  if (!(await page.evaluate<boolean>('typeof window.axe === "object"'))) await page.evaluate(axe.source);
  const violations = await page.evaluate<Violation[]>(`axe.run(document, { resultTypes: ['violations'] }).then((results) =>
    results.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(' ')) })))`);
  return violations.filter((violation) => violation.impact === 'serious' || violation.impact === 'critical');
}

/** The page's width at a 320 CSS px viewport (WCAG 1.4.10 reflow): more than 320 means horizontal scrolling. */
export async function scrollWidthAt320(page: Page): Promise<number> {
  const before = page.viewportSize();
  await page.setViewportSize({ width: 320, height: 640 });
  const width = await page.evaluate<number>('document.documentElement.scrollWidth');
  if (before) await page.setViewportSize(before);
  return width;
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(screenshotsDir, { recursive: true });
  await page.screenshot({ path: `${screenshotsDir}${name}.png`, fullPage: true });
}

export interface TextBox {
  left: number;
  right: number;
}

/** Where the text of the element matching `selector` is drawn (a Range's box, not the block's full width). */
export function textBox(page: Page, selector: string): Promise<TextBox> {
  return page.evaluate<TextBox>(`(() => {
    const range = document.createRange();
    range.selectNodeContents(document.querySelector(${JSON.stringify(selector)}));
    const box = range.getBoundingClientRect();
    return { left: box.left, right: box.right };
  })()`);
}
