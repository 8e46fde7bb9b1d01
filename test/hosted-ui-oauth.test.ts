// The hosted sign-in page's OAuth buttons against a real OpenID provider on loopback: the
// flow ends in a page session, and it is bound to the browser that started it.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from './helpers/app.js';
import { uniqueEmail } from './helpers/fixtures.js';
import { signInAtProvider, TestOpenIdServer, type TestIssuer } from './helpers/oidc-provider.js';
import { PageClient } from './helpers/page-client.js';

// Known before the app listens: the provider only needs the callback's exact address, and the
// scripted provider browser stops there; the test then opens the callback on the real server.
const PUBLIC_URL = 'http://127.0.0.1:9';
const CALLBACK = `${PUBLIC_URL}/ui/oauth/google/callback`;

describe('hosted pages: OAuth sign-in', () => {
  let idp: TestOpenIdServer;
  let google: TestIssuer;
  let untrust: () => void;
  let t: TestApp;

  before(async () => {
    idp = await TestOpenIdServer.start();
    google = await idp.addIssuer({ path: '/google', clients: [{ clientId: 'keyhold-google', clientSecret: 'google-secret' }], redirectUris: [CALLBACK] });
    untrust = idp.trustTestServer();
    t = await startTestApp('pglite', {
      env: { HOSTED_UI_ENABLED: 'true', FRONTEND_URL: '', PUBLIC_URL, GOOGLE_CLIENT_ID: 'keyhold-google', GOOGLE_CLIENT_SECRET: 'google-secret', GOOGLE_ISSUER: google.issuer },
    });
  });
  after(async () => {
    await t?.close();
    untrust?.();
    await idp?.close();
  });

  /** Starts the flow from the sign-in page's button and signs in at the provider; returns the callback path. */
  async function startFlow(browser: PageClient, sub: string): Promise<string> {
    const page = await browser.get('/ui/sign-in');
    assert.match(page.html, /<a class="button button-secondary" href="\/ui\/oauth\/google">Continue with Google<\/a>/);
    const started = await browser.get('/ui/oauth/google');
    assert.equal(started.status, 303);
    const params = await signInAtProvider(started.location!, sub, CALLBACK);
    return `/ui/oauth/google/callback?${params}`;
  }

  test('the provider button signs in and opens the account page', async () => {
    const email = uniqueEmail('oauth-page');
    const account = google.addAccount({ sub: `sub-${randomBytes(6).toString('hex')}`, email, email_verified: true, name: 'Olivia Page' });
    const browser = new PageClient(t.baseUrl);
    const callback = await startFlow(browser, account.sub);
    const landed = await browser.get(callback);
    assert.equal(landed.status, 303);
    assert.equal(landed.location, '/ui/account');
    const accountPage = await browser.get('/ui/account');
    assert.equal(accountPage.status, 200);
    assert.match(accountPage.html, new RegExp(`Signed in as <strong>${email}</strong>`));
  });

  test('a callback in a browser that did not start the flow is refused (login CSRF)', async () => {
    const account = google.addAccount({ sub: `sub-${randomBytes(6).toString('hex')}`, email: uniqueEmail('oauth-page'), email_verified: true, name: 'Mallory' });
    const attacker = new PageClient(t.baseUrl);
    const callback = await startFlow(attacker, account.sub);
    const victim = new PageClient(t.baseUrl);
    const refused = await victim.get(callback);
    assert.equal(refused.status, 303);
    assert.equal(refused.location, '/ui/sign-in');
    assert.equal(victim.cookies.has('keyhold_session'), false);
    assert.match((await victim.get('/ui/sign-in')).html, /role="alert"><p>Invalid OAuth state<\/p>/);
  });
});
