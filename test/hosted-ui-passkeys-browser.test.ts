// Passkeys on the hosted pages in Chromium, with its virtual authenticator (CDP WebAuthn
// domain): add one on the account page, sign in with it alone, and answer the second step with
// it, all by keyboard, with axe-core on the new page states. The pages are served at
// http://localhost:<port>: a secure context, and a name WebAuthn accepts as RP ID (an IP
// address is not). Without a browser: hosted-ui-passkeys.test.ts.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from './helpers/app.js';
import { freePort } from './helpers/ports.js';
import { registerUser, signIn, uniqueEmail } from './helpers/fixtures.js';
import { enrolTotp } from './helpers/mfa.js';
import { activate, checkPage, launchPageBrowser, skipWithoutChromium, submitWithEnter, tabTo, typeInto, type PageBrowser } from './helpers/page-browser.js';

const PASSWORD = 'a long and unusual passphrase';

// What the page functions below use of the browser's DOM (the project compiles without lib.dom).
declare const document: { activeElement: { id: string } | null };

describe('passkeys on the hosted pages in Chromium', { skip: skipWithoutChromium }, () => {
  let t: TestApp;
  let browser: PageBrowser;
  let origin: string;

  before(async () => {
    const port = await freePort();
    origin = `http://localhost:${port}`;
    t = await startTestApp('pglite', { port, env: { HOSTED_UI_ENABLED: 'true', PUBLIC_URL: origin, FRONTEND_URL: '', UI_BRAND_NAME: 'Acme' } });
    browser = await launchPageBrowser();
  });
  after(async () => {
    await browser?.close();
    await t?.close();
  });

  test('add a passkey with the virtual authenticator, sign in with it, and use it as the second step: keyboard only', async () => {
        const page = await browser.context.newPage();
    const cdp = await browser.context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
    });
    const { email } = await registerUser(t.api, { email: uniqueEmail('passkey'), password: PASSWORD });
    await page.goto(`${origin}/ui/sign-in`);
    // No passkey on this authenticator yet: the browser refuses, and the page says so where the
    // keyboard focus now is.
    await tabTo(page, '[data-passkey-button]');
    await page.keyboard.press('Enter');
    await page.locator('#passkey-error').waitFor({ state: 'visible', timeout: 20_000 });
    assert.equal(await page.locator('#passkey-error').innerText(), 'The passkey request was cancelled or timed out. Try again when you are ready.');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'passkey-error');
    await checkPage(page, 'sign-in-passkey-refused');
    await page.goto(`${origin}/ui/sign-in`);
    await typeInto(page, '#f-email', email);
    await typeInto(page, '#f-password', PASSWORD);
    await submitWithEnter(page);
    assert.equal(new URL(page.url()).pathname, '/ui/account');

    // The name, then Enter: the script runs the ceremony and reloads the section.
    await typeInto(page, '#f-passkeys-name', 'Chromium laptop');
    await submitWithEnter(page);
    assert.equal(await page.locator('#passkeys [role="status"]').innerText(), 'Passkey "Chromium laptop" added. You can sign in with it now.');
    assert.equal(await page.locator('#passkeys .item').count(), 1);
    await checkPage(page, 'account-passkeys');
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    assert.equal(credentials.length, 1);
    assert.equal(credentials[0]!.isResidentCredential, true, 'a discoverable credential');

    // Signed out, the passkey button alone signs in: no email, no password.
    await activate(page, 'header button[type="submit"]');
    assert.equal(new URL(page.url()).pathname, '/ui/sign-in');
    await activate(page, '[data-passkey-button]');
    assert.equal(new URL(page.url()).pathname, '/ui/account');
    assert.match(await page.locator('#passkeys .item').innerText(), /last used/);

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
    assert.deepEqual(browser.policyViolations, [], 'the pages break none of their own Content-Security-Policy');
  });
});
