// The hosted pages in Debian's Chromium (playwright-core), for the browser tests: one browser
// per test file, keyboard-only steps, and the page check (axe-core in light and dark colour
// schemes at 1280 and 360 px, no sideways scrolling, one h1, a screenshot of each). Screenshots
// go to $TMPDIR/keyhold-ui-screenshots, outside git.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AxeBuilder } from '@axe-core/playwright';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

// What the page functions below use of the browser's DOM (the project compiles without lib.dom).
declare const document: {
  activeElement: { matches(selector: string): boolean } | null;
  documentElement: { scrollWidth: number; clientWidth: number };
};

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** The `skip` of a browser test: a message when there is no Chromium. */
export const skipWithoutChromium: string | false = existsSync(CHROMIUM)
  ? false
  : `Chromium not found at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`;
export const SCREENSHOTS = join(tmpdir(), 'keyhold-ui-screenshots');

export interface PageBrowser {
  context: BrowserContext;
  /** Console reports of the pages breaking their own Content-Security-Policy. */
  policyViolations: string[];
  close(): Promise<void>;
}

/**
 * Headless Chromium with the flags this machine needs (no background networking).
 * `ignoreHttpsErrors`: for tests whose other parties (a test identity provider) serve HTTPS
 * with a self-signed certificate.
 */
export async function launchPageBrowser(options: { ignoreHttpsErrors?: boolean } = {}): Promise<PageBrowser> {
  const userDataDir = await mkdtemp(join(tmpdir(), 'keyhold-chromium-'));
  await mkdir(SCREENSHOTS, { recursive: true });
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
    ignoreHTTPSErrors: options.ignoreHttpsErrors ?? false,
  });
  const policyViolations: string[] = [];
  context.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) policyViolations.push(message.text());
  });
  return {
    context,
    policyViolations,
    async close() {
      await context.close();
      await rm(userDataDir, { recursive: true, force: true });
    },
  };
}

/** Presses Tab until `selector` has focus (as a keyboard user would), failing if it never does. */
export async function tabTo(page: Page, selector: string): Promise<void> {
  for (let presses = 0; presses < 80; presses++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return;
  }
  assert.fail(`${selector} cannot be reached with Tab`);
}

export async function typeInto(page: Page, selector: string, text: string): Promise<void> {
  await tabTo(page, selector);
  await page.keyboard.type(text);
}

/** Tabs to a button or link and presses Enter, waiting for the page it leads to. */
export async function activate(page: Page, selector: string): Promise<void> {
  await tabTo(page, selector);
  await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
}

export async function submitWithEnter(page: Page): Promise<void> {
  await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
}

/** No axe violation in light and dark colour schemes, at 1280 and 360 px; a screenshot of each. */
export async function checkPage(page: Page, name: string): Promise<void> {
  for (const colorScheme of ['light', 'dark'] as const) {
    for (const width of [1280, 360]) {
      await page.emulateMedia({ colorScheme });
      await page.setViewportSize({ width, height: 900 });
      const results = await new AxeBuilder({ page }).analyze();
      const found = results.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
      assert.deepEqual(found, [], `${name}, ${colorScheme}, ${width} px`);
      // Nothing wider than the screen: no sideways scrolling at 360 px.
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow <= 0, `${name} scrolls sideways at ${width} px (${overflow} px)`);
      await page.screenshot({ path: join(SCREENSHOTS, `${name}-${colorScheme}-${width}.png`), fullPage: true });
    }
  }
  await page.emulateMedia({ colorScheme: 'light' });
  await page.setViewportSize({ width: 1280, height: 900 });
  assert.equal(await page.locator('h1').count(), 1, `${name} has one h1`);
}

export const notice = (page: Page) => page.locator('[role="status"]').innerText();
export const alert = (page: Page) => page.locator('[role="alert"]').first().innerText();
