// The admin console in Chromium (playwright-core), keyboard only (Tab, Enter, Space: no
// clicks): an admin finds a user, ends their sessions, resets two-step verification,
// deactivates and reactivates them; rotates a signing key; adds a webhook and sees its test
// delivery arrive (a receiver on loopback). axe-core on every console page, light and dark,
// 1280 and 360 px (helpers/page-browser.ts checkPage). Screenshots: $TMPDIR/keyhold-ui-screenshots.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { ensureAdmin } from '../src/modules/admin/create-admin.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { registerUser, signIn, uniqueEmail, PASSWORD } from './helpers/fixtures.js';
import { freePort } from './helpers/ports.js';
import { activate, alert, checkPage, launchPageBrowser, notice, skipWithoutChromium, submitWithEnter, tabTo, typeInto, type PageBrowser } from './helpers/page-browser.js';
import { startReceiver, type Receiver } from './helpers/webhook-receiver.js';

describe('admin console in Chromium', { skip: skipWithoutChromium }, () => {
  let t: TestApp;
  let browser: PageBrowser;
  let receiver: Receiver;
  let origin: string;
  let adminEmail: string;

  before(async () => {
    const port = await freePort();
    origin = `http://localhost:${port}`;
    t = await startTestApp('pglite', {
      port,
      env: { HOSTED_UI_ENABLED: 'true', OIDC_PROVIDER_ENABLED: 'true', PUBLIC_URL: origin, FRONTEND_URL: '', UI_BRAND_NAME: 'Acme', WEBHOOK_ALLOW_INSECURE_URLS: 'true' },
    });
    adminEmail = uniqueEmail('admin');
    await ensureAdmin(t.app.ctx, { email: adminEmail, password: PASSWORD, name: 'Ada Admin' });
    receiver = await startReceiver();
    browser = await launchPageBrowser();
  });
  after(async () => {
    await browser?.close();
    await receiver?.close();
    await t?.close();
  });

  /** Opens `path`; signed out (the browser's first visit), signs in by keyboard on the page it sends us to. */
  async function signInTo(page: Page, path: string, email: string): Promise<void> {
    await page.goto(`${origin}${path}`);
    if (new URL(page.url()).pathname === path) return;
    assert.equal(new URL(page.url()).pathname, '/ui/sign-in');
    await typeInto(page, '#f-email', email);
    await typeInto(page, '#f-password', PASSWORD);
    await submitWithEnter(page);
    assert.equal(new URL(page.url()).pathname, path);
  }

  /** Follows a link to a confirmation page, checks it, and confirms with Space on its button. */
  async function confirm(page: Page, link: string, name: string): Promise<void> {
    await activate(page, link);
    await checkPage(page, name);
    await tabTo(page, '.confirm-card button[type="submit"]');
    await Promise.all([page.waitForNavigation(), page.keyboard.press('Space')]);
  }

  test('a user who is not a platform admin gets the 403 page', async () => {
    const { email } = await registerUser(t.api);
    const page = await browser.context.newPage();
    await signInTo(page, '/ui/account', email);
    const response = await page.goto(`${origin}/ui/admin/users`);
    assert.equal(response?.status(), 403);
    await checkPage(page, 'console-forbidden');
    await browser.context.clearCookies();
    await page.close();
  });

  test('find a user, end their sessions, reset two-step verification, deactivate and reactivate: keyboard only', async () => {
    const { email } = await registerUser(t.api, { email: uniqueEmail('zed-browser') });
    await signIn(t.api, email);
    const page = await browser.context.newPage();
    await signInTo(page, '/ui/admin/users', adminEmail);
    await checkPage(page, 'console-users');

    await typeInto(page, '#q', email.slice(0, 12));
    await submitWithEnter(page);
    assert.match(await page.locator('caption').innerText(), /starts with/);
    const id = (await t.app.ctx.db.selectFrom('users').select('id').where('email', '=', email).executeTakeFirstOrThrow()).id;
    await activate(page, `a[href="/ui/admin/users/${id}"]`);
    assert.equal(await page.locator('h1').innerText(), email);
    await checkPage(page, 'console-user');

    await confirm(page, 'a[href$="/end-sessions"]', 'console-confirm');
    assert.match(await notice(page), /One session ended/);
    await confirm(page, 'a[href$="/reset-mfa"]', 'console-confirm-mfa');
    assert.match(await notice(page), /Two-step verification was reset/);
    await confirm(page, 'a[href$="/deactivate"]', 'console-confirm-deactivate');
    assert.match(await notice(page), /deactivated/);
    assert.match(await page.locator('.facts').innerText(), /Deactivated/);
    await checkPage(page, 'console-user-deactivated');
    await tabTo(page, 'form[action$="/reactivate"] button');
    await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
    assert.match(await notice(page), /reactivated/);

    const rows = await t.app.ctx.db.selectFrom('audit_logs').select(['action', 'details']).where('resource_id', '=', id).where('action', 'like', 'admin.%').execute();
    assert.deepEqual(rows.map((r) => r.action).sort(), ['admin.user_mfa_reset', 'admin.user_sessions_revoked', 'admin.user_updated', 'admin.user_updated']);
    assert.ok(rows.every((r) => r.details.via === 'console'));

    await activate(page, 'a[href^="/ui/admin/audit?user="]');
    await checkPage(page, 'console-audit');
    assert.match(await page.locator('table').innerText(), /auth\.register/);
    await page.close();
  });

  test('rotate the signing keys: keyboard only', async () => {
    const page = await browser.context.newPage();
    await signInTo(page, '/ui/admin/keys', adminEmail);
    await checkPage(page, 'console-keys');
    const before = await t.app.ctx.db.selectFrom('signing_keys').select('kid').where('state', '=', 'current').executeTakeFirstOrThrow();
    await confirm(page, 'a[href="/ui/admin/keys/rotate"]', 'console-confirm-rotate');
    assert.match(await notice(page), /Rotated/);
    const previous = await t.app.ctx.db.selectFrom('signing_keys').select('state').where('kid', '=', before.kid).executeTakeFirstOrThrow();
    assert.equal(previous.state, 'previous');
    assert.match(await page.locator('table').innerText(), new RegExp(`${before.kid}\\s+previous`));
    await page.close();
  });

  test('add a webhook, copy its secret, send a test event and see the delivery: keyboard only', async () => {
    const page = await browser.context.newPage();
    await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
    await signInTo(page, '/ui/admin/webhooks', adminEmail);
    await checkPage(page, 'console-webhooks');
    await activate(page, 'a[href="/ui/admin/webhooks/new"]');
    await checkPage(page, 'console-webhook-new');
    await typeInto(page, '#f-webhook-url', `${receiver.url}/hook`);
    await tabTo(page, 'input[value="user.created"]');
    await page.keyboard.press('Space');
    await tabTo(page, 'form[action="/ui/admin/webhooks"] button[type="submit"]');
    await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
    assert.equal(await page.locator('h1').innerText(), 'Webhook added');
    await checkPage(page, 'console-secret');
    const secret = await page.inputValue('#secret-webhook');
    assert.match(secret, /^whsec_/);
    await tabTo(page, 'button[data-copy]');
    await page.keyboard.press('Enter');
    // The copy is asynchronous (navigator.clipboard.writeText): wait for its status line.
    await page.locator('[data-copy-status]').filter({ hasText: 'Copied.' }).waitFor();
    assert.equal(await page.evaluate(() => (globalThis as unknown as { navigator: { clipboard: { readText(): Promise<string> } } }).navigator.clipboard.readText()), secret);

    await activate(page, 'a.button-primary[href^="/ui/admin/webhooks/"]');
    await checkPage(page, 'console-webhook');
    await tabTo(page, 'form[action$="/test"] button');
    await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
    assert.match(await notice(page), /test event/);
    for (let i = 0; i < 50 && !/succeeded/.test(await page.locator('table').innerText()); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      await page.reload();
    }
    assert.match(await page.locator('table').innerText(), /webhook\.test\s+succeeded/);
    assert.equal(JSON.parse(receiver.received.at(-1)!.body).type, 'webhook.test');
    await checkPage(page, 'console-webhook-delivered');
    assert.deepEqual(browser.policyViolations, []);
    void alert;
    await page.close();
  });

  test('every other console page passes axe in both schemes and at 360 px, and reads by keyboard', async () => {
    const { email } = await registerUser(t.api, { name: 'Olga Owner' });
    const owner = await t.app.ctx.db.selectFrom('users').select('account_id').where('email', '=', email).executeTakeFirstOrThrow();
    const page = await browser.context.newPage();
    await signInTo(page, '/ui/admin/accounts', adminEmail);
    await checkPage(page, 'console-accounts');
    await page.goto(`${origin}/ui/admin/accounts/${owner.account_id}`);
    await checkPage(page, 'console-account');
    await page.goto(`${origin}/ui/admin/invite-codes`);
    await typeInto(page, '#f-codes-assigned_plan', 'pro');
    await submitWithEnter(page);
    assert.match(await notice(page), /Created invite code/);
    await checkPage(page, 'console-invite-codes');
    await page.goto(`${origin}/ui/admin/settings`);
    await checkPage(page, 'console-settings');
    await page.goto(`${origin}/ui/admin/oauth-clients/new`);
    await checkPage(page, 'console-client-new');
    await typeInto(page, '#f-client-name', 'Dashboard');
    await typeInto(page, '#f-client-redirect_uris', 'http://dashboard.example.com/callback');
    await tabTo(page, 'form[action="/ui/admin/oauth-clients"] button[type="submit"]');
    await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
    // Refused (a web app's redirect must be https://): the reason sits at the field, what was typed is kept.
    assert.match(await page.locator('#f-client-redirect_uris-error').innerText(), /Redirect URI http:\/\/ is allowed only/);
    assert.equal(await page.inputValue('#f-client-redirect_uris'), 'http://dashboard.example.com/callback');
    await checkPage(page, 'console-client-new-error');
    await page.fill('#f-client-redirect_uris', '');
    await typeInto(page, '#f-client-redirect_uris', 'https://dashboard.example.com/callback');
    await tabTo(page, 'form[action="/ui/admin/oauth-clients"] button[type="submit"]');
    await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
    assert.equal(await page.locator('h1').innerText(), 'Client registered', await page.locator('main').innerText());
    assert.match(await page.inputValue('#secret-client'), /.{20,}/);
    await activate(page, 'a.button-primary[href^="/ui/admin/oauth-clients/"]');
    await checkPage(page, 'console-client');
    await page.goto(`${origin}/ui/admin/oauth-clients`);
    await checkPage(page, 'console-clients');
    await page.goto(`${origin}/ui/admin/audit?action=admin.invite_codes_created`);
    await checkPage(page, 'console-audit-filtered');
    assert.deepEqual(browser.policyViolations, []);
    await page.close();
  });
});
