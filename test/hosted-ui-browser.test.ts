// The hosted pages in a real browser (Debian's Chromium through playwright-core): the flows a
// person goes through, by keyboard alone, with axe-core on every page in light and dark colour
// schemes and at 360 px. The pages are served at http://localhost:<port> (a secure context, and
// a name WebAuthn accepts as RP ID), so passkeys work with Chromium's virtual authenticator.
// Screenshots go to $TMPDIR/keyhold-ui-screenshots (outside git);
// UPDATE_DOCS_SCREENSHOT=1 also refreshes docs/sign-in.png.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AxeBuilder } from '@axe-core/playwright';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { freePort, startTestApp, type TestApp } from './helpers/app.js';
import { registerUser, signIn, uniqueEmail } from './helpers/fixtures.js';
import { codeAt, enrolTotp } from './helpers/mfa.js';
import { startSmtpServer, type ReceivedMessage, type TestSmtpServer } from './helpers/smtp.js';

// What the page functions below use of the browser's DOM (the project compiles without lib.dom).
declare const document: {
  activeElement: { matches(selector: string): boolean } | null;
  documentElement: { scrollWidth: number; clientWidth: number };
};

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? false : `Chromium not found at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`;
const SCREENSHOTS = join(tmpdir(), 'keyhold-ui-screenshots');
const PASSWORD = 'a long and unusual passphrase';

describe('hosted pages in Chromium', { skip }, () => {
  let t: TestApp;
  let smtp: TestSmtpServer;
  let context: BrowserContext;
  let userDataDir: string;
  let origin: string;
  const policyViolations: string[] = [];

  before(async () => {
    smtp = await startSmtpServer();
    const port = await freePort();
    origin = `http://localhost:${port}`;
    t = await startTestApp('pglite', {
      port,
      env: { HOSTED_UI_ENABLED: 'true', PUBLIC_URL: origin, FRONTEND_URL: '', SMTP_URL: smtp.url, OUTBOX_POLL_INTERVAL_MS: '100', UI_BRAND_NAME: 'Acme' },
    });
    userDataDir = await mkdtemp(join(tmpdir(), 'keyhold-chromium-'));
    await mkdir(SCREENSHOTS, { recursive: true });
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1280, height: 900 },
    });
    context.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) policyViolations.push(message.text());
    });
  });
  after(async () => {
    await context?.close();
    await t?.close();
    await smtp?.close();
    if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
  });

  /** The link of an email: to this test's server (PUBLIC_URL). */
  const linkIn = (message: ReceivedMessage, path: string): string => {
    const match = new RegExp(`https?://[^\\s"<>]+${path}\\?token=[^\\s"<>]+`).exec(message.text);
    assert.ok(match, `a ${path} link in the email`);
    assert.equal(new URL(match[0]).origin, origin);
    return match[0];
  };

  /** Presses Tab until `selector` has focus (as a keyboard user would), failing if it never does. */
  async function tabTo(page: Page, selector: string): Promise<void> {
    for (let presses = 0; presses < 80; presses++) {
      await page.keyboard.press('Tab');
      if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return;
    }
    assert.fail(`${selector} cannot be reached with Tab`);
  }

  async function typeInto(page: Page, selector: string, text: string): Promise<void> {
    await tabTo(page, selector);
    await page.keyboard.type(text);
  }

  /** Tabs to a button or link and presses Enter, waiting for the page it leads to. */
  async function activate(page: Page, selector: string): Promise<void> {
    await tabTo(page, selector);
    await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
  }

  async function submitWithEnter(page: Page): Promise<void> {
    await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
  }

  /** No axe violation in light and dark colour schemes, at 1280 and 360 px; a screenshot of each. */
  async function checkPage(page: Page, name: string): Promise<void> {
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

  const notice = (page: Page) => page.locator('[role="status"]').innerText();
  const alert = (page: Page) => page.locator('[role="alert"]').first().innerText();

  test('sign up, verify from the email, sign in, change the profile, sign out, reset a forgotten password: keyboard only', async () => {
    const page = await context.newPage();
    const email = uniqueEmail('browser');

    await page.goto(`${origin}/ui/sign-in`);
    await checkPage(page, 'sign-in');
    if (process.env.UPDATE_DOCS_SCREENSHOT === '1') await copyFile(join(SCREENSHOTS, 'sign-in-light-1280.png'), 'docs/sign-in.png');
    await activate(page, 'a[href="/ui/sign-up"]');
    assert.equal(new URL(page.url()).pathname, '/ui/sign-up');
    await checkPage(page, 'sign-up');

    // A refused form first: the message sits by its field, the email is kept, the password not.
    await typeInto(page, '#f-name', 'Ada Lovelace');
    await typeInto(page, '#f-email', email);
    await typeInto(page, '#f-password', 'short');
    await submitWithEnter(page);
    assert.equal(await page.locator('#f-password-error').textContent(), 'Error: Use at least 8 characters.');
    assert.equal(await page.locator('#f-password').getAttribute('aria-invalid'), 'true');
    assert.equal(await page.inputValue('#f-email'), email);
    assert.equal(await page.inputValue('#f-password'), '');
    await checkPage(page, 'sign-up-error');

    await typeInto(page, '#f-password', PASSWORD);
    await submitWithEnter(page);
    assert.equal(new URL(page.url()).pathname, '/ui/sign-in');
    assert.match(await notice(page), /Your account has been created/);

    // The verification email links to the hosted page.
    const verification = await smtp.waitForMessage(email, 5000, (m) => m.text.includes('/ui/verify-email?token='));
    await page.goto(linkIn(verification, '/ui/verify-email'));
    await checkPage(page, 'verify-email');
    await activate(page, 'button[type="submit"]');
    assert.equal(await notice(page), 'Email verified successfully');

    await page.goto(`${origin}/ui/sign-in`);
    await typeInto(page, '#f-email', email);
    await typeInto(page, '#f-password', 'not the password');
    await submitWithEnter(page);
    assert.equal(await alert(page), 'Incorrect email or password');
    await checkPage(page, 'sign-in-error');
    await typeInto(page, '#f-password', PASSWORD);
    await submitWithEnter(page);
    assert.equal(new URL(page.url()).pathname, '/ui/account');
    assert.match(await page.locator('#email').innerText(), /verified/);
    await checkPage(page, 'account');

    // The profile: a new name, saved and shown.
    await tabTo(page, '#f-profile-name');
    await page.keyboard.press('Control+A');
    await page.keyboard.type('Ada King');
    await typeInto(page, '#f-profile-job_title', 'Analyst');
    await submitWithEnter(page);
    assert.equal(await page.locator('#profile [role="status"]').innerText(), 'Your profile has been saved.');
    assert.equal(await page.inputValue('#f-profile-name'), 'Ada King');
    assert.equal(await page.inputValue('#f-profile-job_title'), 'Analyst');

    await activate(page, 'header button[type="submit"]');
    assert.equal(new URL(page.url()).pathname, '/ui/sign-in');
    assert.equal(await notice(page), 'You have signed out.');
    await page.goto(`${origin}/ui/account`);
    assert.equal(new URL(page.url()).pathname, '/ui/sign-in');

    // A forgotten password.
    await activate(page, 'a[href="/ui/forgot-password"]');
    await checkPage(page, 'forgot-password');
    await typeInto(page, '#f-email', email);
    await submitWithEnter(page);
    assert.equal(await notice(page), 'If an account with that email exists, a reset link has been sent.');
    const reset = await smtp.waitForMessage(email, 5000, (m) => m.text.includes('/ui/reset-password?token='));
    await page.goto(linkIn(reset, '/ui/reset-password'));
    await checkPage(page, 'reset-password');
    await typeInto(page, '#f-new_password', 'another long passphrase');
    await submitWithEnter(page);
    assert.match(await notice(page), /Password has been reset successfully/);
    await typeInto(page, '#f-email', email);
    await typeInto(page, '#f-password', 'another long passphrase');
    await submitWithEnter(page);
    assert.equal(new URL(page.url()).pathname, '/ui/account');

    // A spent link says so.
    await page.goto(linkIn(reset, '/ui/reset-password'));
    assert.equal(await alert(page), 'Invalid or expired reset token');
    await checkPage(page, 'reset-password-spent');
    await page.goto(`${origin}/ui/no-such-page`);
    await checkPage(page, 'not-found');
    await page.close();
    assert.deepEqual(policyViolations, [], 'the pages break none of their own Content-Security-Policy');
  });

  test('enrol TOTP from the key on the page, sign in with the code, sign another device out: keyboard only', async () => {
    // A browser of its own: the first flow ended signed in.
    await context.clearCookies();
    const page = await context.newPage();
    const { email } = await registerUser(t.api, { email: uniqueEmail('totp'), password: PASSWORD });
    // Another device, signed in through the API before the second factor is on.
    const otherDevice = await signIn(t.api, email, PASSWORD);
    const otherSession = (await t.app.ctx.tokens.verify(otherDevice.accessToken, 'access'))!.sid!;
    const signInWithPassword = async () => {
      await page.goto(`${origin}/ui/sign-in`);
      await typeInto(page, '#f-email', email);
      await typeInto(page, '#f-password', PASSWORD);
      await submitWithEnter(page);
    };

    await signInWithPassword();
    assert.equal(new URL(page.url()).pathname, '/ui/account');
    await activate(page, '#totp button[type="submit"]');
    assert.match(await page.locator('#totp [role="status"]').innerText(), /Scan the QR code/);
    assert.equal(await page.locator('#totp img.qr-code').count(), 1);
    await checkPage(page, 'account-totp-setup');
    const secret = (await page.locator('#totp-secret').innerText()).trim();
    await typeInto(page, '#f-totp-code', codeAt(secret, t.clock));
    await submitWithEnter(page);
    assert.equal(new URL(page.url()).pathname, '/ui/account/totp/enable');
    assert.equal(await page.locator('#recovery-codes li').count(), 10);
    await checkPage(page, 'recovery-codes');
    await activate(page, 'a[href="/ui/account#totp"]');
    assert.match(await page.locator('#totp').innerText(), /Two-step verification is on/);

    await activate(page, 'header button[type="submit"]');
    await signInWithPassword();
    assert.equal(new URL(page.url()).pathname, '/ui/mfa');
    await checkPage(page, 'mfa');
    await typeInto(page, '#f-code', '000000' === codeAt(secret, t.clock) ? '111111' : '000000');
    await submitWithEnter(page);
    assert.equal(await page.locator('#f-code-error').textContent(), 'Error: Invalid MFA code');
    await checkPage(page, 'mfa-error');
    // The enabling code's step is spent: the next one.
    t.clock.advanceSeconds(30);
    await typeInto(page, '#f-code', codeAt(secret, t.clock));
    await submitWithEnter(page);
    assert.equal(new URL(page.url()).pathname, '/ui/account');

    // The devices: this browser and the API's session; sign the other one out.
    assert.equal(await page.locator('#sessions .session').count(), 2);
    assert.match(await page.locator('#sessions .session').first().innerText(), /This device/);
    await activate(page, `#session-${otherSession} button[type="submit"]`);
    assert.equal(await page.locator('#sessions [role="status"]').innerText(), 'That device has been signed out.');
    assert.equal(await page.locator('#sessions .session').count(), 1);
    assert.equal((await t.api.get('/auth/me', otherDevice.accessToken)).status, 401);
    await checkPage(page, 'account-sessions');
    await page.close();
    assert.deepEqual(policyViolations, [], 'the pages break none of their own Content-Security-Policy');
  });
  test('add a passkey with the virtual authenticator, sign in with it, and use it as the second step: keyboard only', async () => {
    await context.clearCookies();
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
    });
    const { email } = await registerUser(t.api, { email: uniqueEmail('passkey'), password: PASSWORD });
    await page.goto(`${origin}/ui/sign-in`);
    await typeInto(page, '#f-email', email);
    await typeInto(page, '#f-password', PASSWORD);
    await submitWithEnter(page);
    assert.equal(new URL(page.url()).pathname, '/ui/account');

    // The name, then Enter: the script runs the ceremony and reloads the section.
    await typeInto(page, '#f-passkeys-name', 'Chromium laptop');
    await submitWithEnter(page);
    assert.equal(await page.locator('#passkeys [role="status"]').innerText(), 'Passkey "Chromium laptop" added. You can sign in with it now.');
    assert.equal(await page.locator('#passkeys .session').count(), 1);
    await checkPage(page, 'account-passkeys');
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    assert.equal(credentials.length, 1);
    assert.equal(credentials[0]!.isResidentCredential, true, 'a discoverable credential');

    // Signed out, the passkey button alone signs in: no email, no password.
    await activate(page, 'header button[type="submit"]');
    assert.equal(new URL(page.url()).pathname, '/ui/sign-in');
    await activate(page, '[data-passkey-button]');
    assert.equal(new URL(page.url()).pathname, '/ui/account');
    assert.match(await page.locator('#passkeys .session').innerText(), /last used/);

    // With TOTP on, the passkey answers the second step after a password.
    const user = await signIn(t.api, email, PASSWORD);
    await enrolTotp(t.api, t.clock, user.accessToken);
    await activate(page, 'header button[type="submit"]');
    await typeInto(page, '#f-email', email);
    await typeInto(page, '#f-password', PASSWORD);
    await submitWithEnter(page);
    assert.equal(new URL(page.url()).pathname, '/ui/mfa');
    await checkPage(page, 'mfa-passkey');
    await activate(page, '[data-passkey-button]');
    assert.equal(new URL(page.url()).pathname, '/ui/account');
    await page.close();
    assert.deepEqual(policyViolations, [], 'the pages break none of their own Content-Security-Policy');
  });
});
