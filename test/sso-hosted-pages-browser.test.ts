// Enterprise SSO through the hosted pages in Chromium (issue 28): the sign-in page asks for the
// email first; an email on an account's verified domain with a connection goes to that
// account's identity provider (a real OpenID provider, oidc-provider over HTTPS on loopback;
// and a real SAML one, SimpleSAMLphp, where it is installed) and comes back signed in; any
// other email goes on to the password step; where the account enforces SSO, a password typed
// for one of its people sends them to the provider too.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { startTestApp, type TestApp } from './helpers/app.js';
import { startDnsServer, type TestDnsServer } from './helpers/dns-server.js';
import { registerUser } from './helpers/fixtures.js';
import { TestOpenIdServer, type TestIssuer } from './helpers/oidc-provider.js';
import { checkPage, launchPageBrowser, skipWithoutChromium, submitWithEnter, typeInto, type PageBrowser } from './helpers/page-browser.js';
import { freePort } from './helpers/ports.js';
import { SimpleSamlPhp, simpleSamlPhpMissing } from './helpers/simplesamlphp.js';
import { accountWithDomain, FRONT_END, samlConnection, setPolicy, type SsoAccount } from './helpers/sso.js';

describe('SSO through the hosted pages in Chromium', { skip: skipWithoutChromium }, () => {
  let t: TestApp;
  let dns: TestDnsServer;
  let op: TestOpenIdServer;
  let issuer: TestIssuer;
  let untrust: () => void;
  let account: SsoAccount;
  let browser: PageBrowser;
  let origin: string;

  before(async () => {
    dns = await startDnsServer();
    const port = await freePort();
    origin = `http://localhost:${port}`;
    op = await TestOpenIdServer.start();
    issuer = await op.addIssuer({ path: '/corp', clients: [{ clientId: 'keyhold-corp', clientSecret: 'corp-secret' }], redirectUris: [`${origin}/api/v1/auth/sso/oidc/callback`] });
    // Keyhold runs in this process: its fetch to the provider trusts the test certificate.
    untrust = op.trustTestServer();
    t = await startTestApp('pglite', {
      port,
      env: { HOSTED_UI_ENABLED: 'true', PUBLIC_URL: origin, FRONTEND_URL: '', DNS_SERVERS: dns.address, OAUTH_REDIRECT_URIS: FRONT_END, UI_BRAND_NAME: 'Acme', WEBHOOK_ALLOW_INSECURE_URLS: 'true' },
    });
    account = await accountWithDomain(t, dns);
    const created = await t.api.post('/accounts/me/sso-connections', {
      type: 'oidc', name: 'Corp OIDC', issuer: issuer.issuer, client_id: 'keyhold-corp', client_secret: 'corp-secret',
    }, account.owner.accessToken);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    await setPolicy(t, account.owner, { auto_join: true });
    browser = await launchPageBrowser({ ignoreHttpsErrors: true });
  });
  after(async () => {
    await browser?.close();
    await t?.close();
    untrust?.();
    await op?.close();
    await dns?.close();
  });

  /** A fresh browser page that signs in as `sub` at the test provider's login step. */
  async function pageSigningInAs(sub: string): Promise<Page> {
    await browser.context.clearCookies();
    // The test provider's login page signs in whom it is told (test/helpers/oidc-provider.ts).
    issuer.loginAs = sub;
    return browser.context.newPage();
  }

  test('an email on an SSO domain goes to its identity provider and comes back signed in; keyboard only', async () => {
    const email = `olga@${account.domain}`;
    issuer.addAccount({ sub: 'olga-1', email, email_verified: true, name: 'Olga Corp' });
    const page = await pageSigningInAs('olga-1');
    await page.goto(`${origin}/ui/sign-in`);
    // Email first: no password field until the email says which way to go.
    assert.equal(await page.locator('input[name=password]').count(), 0);
    await checkPage(page, 'sign-in-email-first');
    await typeInto(page, '#f-email', email);
    await submitWithEnter(page);
    await page.waitForURL((url) => url.pathname === '/ui/account', { timeout: 20_000 });
    assert.match(await page.locator('main').innerText(), new RegExp(email.replace('.', '\\.')));
    assert.deepEqual(browser.policyViolations, []);
    await page.close();
  });

  test("a refusal after the provider (not a member, auto_join off) lands on the sign-in page with the reason, not on a JSON reply", async () => {
    await setPolicy(t, account.owner, { auto_join: false });
    const email = `nina@${account.domain}`;
    issuer.addAccount({ sub: 'nina-1', email, email_verified: true, name: 'Nina Corp' });
    const page = await pageSigningInAs('nina-1');
    await page.goto(`${origin}/ui/sign-in`);
    await typeInto(page, '#f-email', email);
    await submitWithEnter(page);
    await page.waitForURL((url) => url.origin === origin && url.pathname === '/ui/sign-in', { timeout: 20_000 });
    assert.match(await page.locator('.alert-error[role=alert]:not([hidden])').innerText(), /not a member of its account here yet/);
    await checkPage(page, 'sign-in-sso-refused');
    await setPolicy(t, account.owner, { auto_join: true });
    await page.close();
  });

  test('any other email goes on to the password step, as before', async () => {
    const { email, password } = await registerUser(t.api);
    const page = await pageSigningInAs('nobody');
    await page.goto(`${origin}/ui/sign-in`);
    await typeInto(page, '#f-email', email);
    await submitWithEnter(page);
    assert.equal(new URL(page.url()).searchParams.get('step'), 'password');
    assert.equal(await page.inputValue('#f-email'), email);
    await checkPage(page, 'sign-in-password-step');
    await typeInto(page, '#f-password', password);
    await submitWithEnter(page);
    assert.equal(new URL(page.url()).pathname, '/ui/account');
    await page.close();
  });

  test('with SSO enforced, a password typed for one of the account\'s people sends them to the provider instead', async () => {
    // Pavel registered with a password before the account enforced SSO.
    const email = `pavel@${account.domain}`;
    const { password } = await registerUser(t.api, { email });
    await setPolicy(t, account.owner, { auto_join: true, enforced: true });
    issuer.addAccount({ sub: 'pavel-1', email, email_verified: true, name: 'Pavel Corp' });
    const page = await pageSigningInAs('pavel-1');
    await page.goto(`${origin}/ui/sign-in?step=password`);
    await typeInto(page, '#f-email', email);
    await typeInto(page, '#f-password', password);
    await submitWithEnter(page);
    await page.waitForURL((url) => url.pathname === '/ui/account', { timeout: 20_000 });
    assert.match(await page.locator('main').innerText(), /pavel@/);
    await page.close();
  });
});

describe('SAML SSO through the hosted pages in Chromium (SimpleSAMLphp)', { skip: skipWithoutChromium || (simpleSamlPhpMissing() ?? false) }, () => {
  let t: TestApp;
  let dns: TestDnsServer;
  let ssp: SimpleSamlPhp;
  let account: SsoAccount;
  let browser: PageBrowser;
  let origin: string;

  before(async () => {
    dns = await startDnsServer();
    const port = await freePort();
    origin = `http://localhost:${port}`;
    t = await startTestApp('pglite', { port, env: { HOSTED_UI_ENABLED: 'true', PUBLIC_URL: origin, FRONTEND_URL: '', DNS_SERVERS: dns.address, UI_BRAND_NAME: 'Acme' } });
    account = await accountWithDomain(t, dns);
    ssp = await SimpleSamlPhp.start([{ username: 'sam', password: 'sam-pass', email: `sam@${account.domain}`, name: 'Sam Corp' }]);
    const connection = await samlConnection(t, account.owner, await ssp.metadata());
    await ssp.registerSp([{ entityId: connection.sp.entity_id, acsUrl: connection.sp.acs_url }]);
    await setPolicy(t, account.owner, { auto_join: true });
    browser = await launchPageBrowser();
  });
  after(async () => {
    await browser?.close();
    await t?.close();
    await ssp?.close();
    await dns?.close();
  });

  test("an email on the domain goes to SimpleSAMLphp's login, whose signed response signs the person in", async () => {
    const page = await browser.context.newPage();
    await page.goto(`${origin}/ui/sign-in`);
    await typeInto(page, '#f-email', `sam@${account.domain}`);
    await submitWithEnter(page);
    // SimpleSAMLphp's own login form, then its page that posts the response to Keyhold's ACS.
    await page.waitForSelector('input[name=username]', { timeout: 20_000 });
    await page.fill('input[name=username]', 'sam');
    await page.fill('input[name=password]', 'sam-pass');
    await page.press('input[name=password]', 'Enter');
    await page.waitForURL((url) => url.origin === origin && url.pathname === '/ui/account', { timeout: 20_000 });
    assert.match(await page.locator('main').innerText(), /sam@/);
    assert.deepEqual(browser.policyViolations, []);
    await page.close();
  });
});
