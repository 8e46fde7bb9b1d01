// The hosted pages in a real browser (Debian's Chromium through playwright-core): the flows a
// person goes through, by keyboard alone, with axe-core on every page in light and dark colour
// schemes and at 360 px. The pages are served at http://localhost:<port> (a secure context, and
// a name WebAuthn accepts as RP ID), so passkeys work with Chromium's virtual authenticator.
// Screenshots go to $TMPDIR/keyhold-ui-screenshots (outside git);
// UPDATE_DOCS_SCREENSHOT=1 also refreshes docs/sign-in.png.
import assert from 'node:assert/strict';
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from './helpers/app.js';
import { freePort } from './helpers/ports.js';
import { registerUser, signIn, uniqueEmail } from './helpers/fixtures.js';
import { codeAt } from './helpers/mfa.js';
import { activate, alert, checkPage, launchPageBrowser, notice, SCREENSHOTS, skipWithoutChromium, submitWithEnter, tabTo, typeInto, type PageBrowser } from './helpers/page-browser.js';
import { startSmtpServer, type ReceivedMessage, type TestSmtpServer } from './helpers/smtp.js';

const PASSWORD = 'a long and unusual passphrase';

describe('hosted pages in Chromium', { skip: skipWithoutChromium }, () => {
  let t: TestApp;
  let smtp: TestSmtpServer;
  let browser: PageBrowser;
  let origin: string;

  before(async () => {
    smtp = await startSmtpServer();
    const port = await freePort();
    origin = `http://localhost:${port}`;
    t = await startTestApp('pglite', {
      port,
      env: { HOSTED_UI_ENABLED: 'true', PUBLIC_URL: origin, FRONTEND_URL: '', SMTP_URL: smtp.url, OUTBOX_POLL_INTERVAL_MS: '100', UI_BRAND_NAME: 'Acme' },
    });
    browser = await launchPageBrowser();
  });
  after(async () => {
    await browser?.close();
    await t?.close();
    await smtp?.close();
  });

  /** The link of an email: to this test's server (PUBLIC_URL). */
  const linkIn = (message: ReceivedMessage, path: string): string => {
    const match = new RegExp(`https?://[^\\s"<>]+${path}\\?token=[^\\s"<>]+`).exec(message.text);
    assert.ok(match, `a ${path} link in the email`);
    assert.equal(new URL(match[0]).origin, origin);
    return match[0];
  };

  test('sign up, verify from the email, sign in, change the profile, sign out, reset a forgotten password: keyboard only', async () => {
    const page = await browser.context.newPage();
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
    assert.deepEqual(browser.policyViolations, [], 'the pages break none of their own Content-Security-Policy');
  });

  test('enrol TOTP from the key on the page, sign in with the code, sign another device out: keyboard only', async () => {
    // A browser of its own: the first flow ended signed in.
    await browser.context.clearCookies();
    const page = await browser.context.newPage();
    const { email } = await registerUser(t.api, { email: uniqueEmail('totp'), password: PASSWORD });
    // A device signed in through the API before the second factor is on: enabling it ends that
    // password-only session (issue 24).
    const earlierDevice = await signIn(t.api, email, PASSWORD);
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
    assert.equal((await t.api.get('/auth/me', earlierDevice.accessToken)).status, 401);

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

    // Another device, signed in through the API with both factors.
    t.clock.advanceSeconds(30);
    const mfaToken = (await t.api.post('/auth/login/json', { email, password: PASSWORD })).body.mfa_token;
    const otherDevice = { accessToken: (await t.api.post('/auth/mfa/verify', { mfa_token: mfaToken, code: codeAt(secret, t.clock) })).body.access_token as string };
    const otherSession = (await t.app.ctx.tokens.verify(otherDevice.accessToken, 'access'))!.sid!;
    await page.reload();

    // The devices: this browser and the API's session; sign the other one out.
    assert.equal(await page.locator('#sessions .session').count(), 2);
    assert.match(await page.locator('#sessions .session').first().innerText(), /This device/);
    await activate(page, `#session-${otherSession} button[type="submit"]`);
    assert.equal(await page.locator('#sessions [role="status"]').innerText(), 'That device has been signed out.');
    assert.equal(await page.locator('#sessions .session').count(), 1);
    assert.equal((await t.api.get('/auth/me', otherDevice.accessToken)).status, 401);
    await checkPage(page, 'account-sessions');
    await page.close();
    assert.deepEqual(browser.policyViolations, [], 'the pages break none of their own Content-Security-Policy');
  });
});
