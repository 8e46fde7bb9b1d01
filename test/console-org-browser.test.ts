// The organization console in Chromium (playwright-core), keyboard only (Tab, Enter, Space: no
// clicks): a customer admin invites a member, verifies a domain against the DNS server on
// loopback, creates a SAML connection and copies its SP values, turns on enforcement, issues a
// SCIM token (shown once, copied) and revokes it. A member gets the 403 page; the account page
// with its section navigation and "Apps with access". axe-core on every page added or changed,
// light and dark, 1280 and 360 px (helpers/page-browser.ts checkPage).
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { ensureAdmin } from '../src/modules/admin/create-admin.js';
import { rememberConsent } from '../src/modules/oidc-provider/apps.service.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { startDnsServer, type TestDnsServer } from './helpers/dns-server.js';
import { PASSWORD, registerAndSignIn, signIn, uniqueEmail } from './helpers/fixtures.js';
import { activate, checkPage, launchPageBrowser, skipWithoutChromium, submitWithEnter, tabTo, typeInto, type PageBrowser } from './helpers/page-browser.js';
import { freePort } from './helpers/ports.js';
import { TestSamlIdp } from './helpers/saml-idp.js';

const ORG = '/ui/account/organization';

// What the page functions below use of the browser (the project compiles without lib.dom).
declare const navigator: { clipboard: { readText(): Promise<string> } };

describe('organization console in Chromium', { skip: skipWithoutChromium }, () => {
  let t: TestApp;
  let dns: TestDnsServer;
  let browser: PageBrowser;
  let origin: string;

  before(async () => {
    dns = await startDnsServer();
    const port = await freePort();
    origin = `http://localhost:${port}`;
    t = await startTestApp('pglite', {
      port,
      env: { HOSTED_UI_ENABLED: 'true', OIDC_PROVIDER_ENABLED: 'true', PUBLIC_URL: origin, FRONTEND_URL: '', UI_BRAND_NAME: 'Acme', DNS_SERVERS: dns.address },
    });
    browser = await launchPageBrowser();
    await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
  });
  after(async () => {
    await browser?.close();
    await t?.close();
    await dns?.close();
  });

  /** Opens `path`; signed out, signs in by keyboard on the page it sends us to, and comes back. */
  async function signInTo(page: Page, path: string, email: string): Promise<void> {
    // Each test starts signed out (a failed test before may have left its user signed in).
    await browser.context.clearCookies();
    await page.goto(`${origin}${path}`);
    if (new URL(page.url()).pathname === path) return;
    assert.equal(new URL(page.url()).pathname, '/ui/sign-in');
    await typeInto(page, '#f-email', email);
    // Email first once any account has an SSO connection: Continue, then the password step.
    if ((await page.locator('#f-password').count()) === 0) await submitWithEnter(page);
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

  /** The page's notice (the copy buttons' own status lines are role=status too). */
  const notice = (page: Page) => page.locator('.alert-notice').first().innerText();

  /** Tabs to a copy button, presses it, and checks what reached the clipboard. */
  async function copies(page: Page, id: string): Promise<string> {
    const value = await page.inputValue(`#secret-${id}`);
    await tabTo(page, `button[data-copy="secret-${id}"]`);
    await page.keyboard.press('Space');
    await page.locator(`[data-copy-status="secret-${id}"]`).filter({ hasText: 'Copied.' }).waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), value);
    return value;
  }

  test('a member gets the 403 page; signed out, the console sends to sign-in and back', async () => {
    const owner = await registerAndSignIn(t.api);
    const email = uniqueEmail('member');
    const invited = await t.api.post('/accounts/me/invites', { email, role: 'member' }, owner.accessToken);
    await registerAndSignIn(t.api, { email, account_invite_code: invited.body.code });
    const page = await browser.context.newPage();
    await signInTo(page, '/ui/account', email);
    const response = await page.goto(`${origin}${ORG}`);
    assert.equal(response?.status(), 403);
    await checkPage(page, 'org-forbidden');
    await browser.context.clearCookies();
    await page.close();
  });

  test('a customer admin invites, verifies a domain, sets up SAML, requires SSO, issues and revokes a SCIM token: keyboard only', async () => {
    const owner = await registerAndSignIn(t.api, { name: 'Olivia Owner' });
    const page = await browser.context.newPage();
    await signInTo(page, ORG, owner.email);
    await checkPage(page, 'org-members');

    // Invite someone as an admin (the role picked with the arrow keys).
    const invitee = uniqueEmail('invitee');
    await typeInto(page, '#f-invite-email', invitee);
    await tabTo(page, '#f-invite-role');
    await page.keyboard.press('ArrowDown');
    await tabTo(page, 'form[action$="/invites"] button[type="submit"]');
    await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
    assert.match(await notice(page), new RegExp(`We sent an invitation to ${invitee}`));
    const invites = (await t.api.get('/accounts/me/invites', owner.accessToken)).body;
    assert.deepEqual(invites.map((i: { email: string; role: string }) => [i.email, i.role]), [[invitee, 'admin']]);
    await checkPage(page, 'org-members-invited');
    await confirm(page, `a[href="${ORG}/invites/${invites[0].id}/revoke"]`, 'org-confirm-invite');
    assert.match(await notice(page), /revoked/);

    // A domain: the TXT record shown, published on the DNS server, verified.
    await activate(page, `a[href="${ORG}/domains"]`);
    await checkPage(page, 'org-domains-empty');
    const domain = `corp-${randomBytes(4).toString('hex')}.test`;
    await typeInto(page, '#f-add-domain-domain', domain);
    await submitWithEnter(page);
    const [claimed] = (await t.api.get('/accounts/me/domains', owner.accessToken)).body;
    const name = await copies(page, `txt-name-${claimed.id}`);
    const value = await copies(page, `txt-value-${claimed.id}`);
    await checkPage(page, 'org-domains-claimed');
    dns.txt.set(name, [value]);
    await tabTo(page, `form[action$="/domains/${claimed.id}/verify"] button`);
    await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
    assert.match(await notice(page), new RegExp(`${domain} is verified`));
    await checkPage(page, 'org-domains');

    // A SAML connection from the IdP's metadata; its SP values copied.
    await activate(page, `a[href="${ORG}/sso"]`);
    await checkPage(page, 'org-sso-empty');
    await typeInto(page, '#f-new-saml-name', 'Corp SAML');
    await tabTo(page, '#f-new-saml-metadata_xml');
    await page.keyboard.insertText(new TestSamlIdp().metadata());
    await tabTo(page, 'form[action$="/sso/saml"] button[type="submit"]');
    await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
    assert.match(await notice(page), /The connection has been created/);
    const [connection] = (await t.api.get('/accounts/me/sso-connections', owner.accessToken)).body;
    assert.equal(await page.locator('h1').innerText(), 'Corp SAML');
    for (const field of ['entity_id', 'acs_url', 'metadata_url']) assert.equal(await copies(page, `sp-${field}`), connection.sp[field]);
    await checkPage(page, 'org-sso-connection');

    // Enforcement, after its confirmation.
    await activate(page, `a[href="${ORG}/sso"]`);
    await tabTo(page, '#f-policy-enforced');
    await page.keyboard.press('Space');
    await tabTo(page, 'form[action$="/sso/policy"] button[type="submit"]');
    await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
    assert.equal(await page.locator('h1').innerText(), 'Require single sign-on?');
    await checkPage(page, 'org-confirm-enforcement');
    await tabTo(page, '.confirm-card button[type="submit"]');
    await Promise.all([page.waitForNavigation(), page.keyboard.press('Space')]);
    assert.match(await notice(page), /Single sign-on is required/);
    assert.equal((await t.api.get('/accounts/me/sso-settings', owner.accessToken)).body.enforced, true);
    await checkPage(page, 'org-sso');

    // A SCIM token: shown once, copied, working; then revoked.
    await activate(page, `a[href="${ORG}/scim"]`);
    await checkPage(page, 'org-scim-empty');
    await typeInto(page, '#f-new-token-description', 'Entra ID');
    await submitWithEnter(page);
    const token = await copies(page, 'new-token');
    assert.match(token, /^khscim_/);
    await checkPage(page, 'org-scim-token-shown');
    const scim = () => fetch(`${origin}/scim/v2/Users`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal((await scim()).status, 200);
    const [row] = (await t.api.get('/accounts/me/scim-tokens', owner.accessToken)).body;
    await page.goto(`${origin}${ORG}/scim`);
    assert.equal(await page.locator(`#secret-new-token`).count(), 0, 'shown once');
    await checkPage(page, 'org-scim');
    await confirm(page, `a[href="${ORG}/scim/tokens/${row.id}/revoke"]`, 'org-confirm-scim');
    assert.match(await notice(page), /revoked/);
    assert.equal((await scim()).status, 401);

    const audit = await t.app.ctx.db.selectFrom('audit_logs').select(['action', 'details']).where('user_id', '=', owner.id).where('action', 'in', ['account.invite_created', 'domain.verified', 'sso.connection_created', 'sso.settings_updated', 'scim.token_created', 'scim.token_deleted']).execute();
    assert.equal(audit.length, 6);
    assert.ok(audit.every((r) => (r.details as { via?: string }).via === 'console'));
    assert.deepEqual(browser.policyViolations, []);
    await browser.context.clearCookies();
    await page.close();
  });

  test('the account page: its sections by their navigation, apps with access, removing one: keyboard only', async () => {
    const adminEmail = uniqueEmail('admin');
    await ensureAdmin(t.app.ctx, { email: adminEmail, password: PASSWORD, name: 'Ada Admin' });
    const { accessToken } = await signIn(t.api, adminEmail);
    const client = await t.api.post('/admin/oauth-clients', { name: 'Acme Reports', redirect_uris: ['https://reports.example.com/cb'], grant_types: ['authorization_code'], token_endpoint_auth_method: 'none', scopes: ['openid', 'email', 'profile'] }, accessToken);
    assert.equal(client.status, 201, JSON.stringify(client.body));
    const user = await registerAndSignIn(t.api);
    await rememberConsent(t.app.ctx, { userId: user.id, clientId: client.body.client_id, scopes: ['openid', 'email', 'profile'], grantId: randomUUID() }, null);

    const page = await browser.context.newPage();
    await signInTo(page, '/ui/account', user.email);
    await checkPage(page, 'account');
    await tabTo(page, '.side-nav a[href="#apps"]');
    await page.keyboard.press('Enter');
    assert.equal(new URL(page.url()).hash, '#apps');
    assert.match(await page.locator('#apps').innerText(), /Acme Reports[\s\S]*Your email address/);
    await confirm(page, `a[href="/ui/account/apps/${client.body.client_id}/revoke"]`, 'account-confirm-app');
    assert.match(await notice(page), /no longer has access/);
    assert.equal((await t.api.get('/auth/me/apps', user.accessToken)).body.length, 0);
    await checkPage(page, 'account-no-apps');
    assert.deepEqual(browser.policyViolations, []);
    await page.close();
  });
});
