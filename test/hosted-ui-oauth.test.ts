// The hosted sign-in page's OAuth buttons against a real OpenID provider on loopback: the
// flow ends in a page session, it is bound to the browser that started it, and for a user
// with two-step verification it ends at /ui/mfa instead, the session only after the code.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { hashSecret } from '../src/lib/random.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { uniqueEmail } from './helpers/fixtures.js';
import { codeAt } from './helpers/mfa.js';
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

  test('a user with two-step verification gets the code step after the provider, and a session of oauth + otp at aal2', async () => {
    const email = uniqueEmail('oauth-mfa');
    const account = google.addAccount({ sub: `sub-${randomBytes(6).toString('hex')}`, email, email_verified: true, name: 'Otto Factor' });
    // The first sign-in makes the account; its page turns on TOTP.
    const first = new PageClient(t.baseUrl);
    assert.equal((await first.get(await startFlow(first, account.sub))).location, '/ui/account');
    await first.get('/ui/account');
    assert.equal((await first.post('/ui/account/totp/setup', {})).location, '/ui/account#totp');
    const secret = /id="totp-secret">([A-Z2-7]+)</.exec((await first.get('/ui/account')).html)?.[1];
    assert.ok(secret, 'the setup shows its key');
    assert.equal((await first.post('/ui/account/totp/enable', { code: codeAt(secret, t.clock) })).status, 200);
    // The enabling code's step is spent; the sign-in below uses the next one.
    t.clock.advanceSeconds(30);

    const browser = new PageClient(t.baseUrl);
    const landed = await browser.get(await startFlow(browser, account.sub));
    assert.equal(landed.status, 303);
    assert.equal(landed.location, '/ui/mfa');
    assert.ok(landed.setCookies.some((line) => line.startsWith('keyhold_mfa=')), 'the mfa_token is kept in its cookie');
    assert.equal(browser.cookies.has('keyhold_session'), false, 'no page session before the second factor');
    assert.equal((await browser.get('/ui/account')).location, '/ui/sign-in?next=/ui/account');

    await browser.get('/ui/mfa');
    const right = codeAt(secret, t.clock);
    const wrong = await browser.post('/ui/mfa', { code: right === '000000' ? '111111' : '000000' });
    assert.equal(wrong.location, '/ui/mfa');
    assert.match((await browser.get('/ui/mfa')).html, /Invalid MFA code/);
    assert.equal(browser.cookies.has('keyhold_session'), false, 'a wrong code opens nothing');

    const passed = await browser.post('/ui/mfa', { code: right });
    assert.equal(passed.status, 303);
    assert.equal(passed.location, '/ui/account');
    assert.equal(browser.cookies.has('keyhold_mfa'), false, 'the mfa cookie is cleared');
    const accountPage = await browser.get('/ui/account');
    assert.equal(accountPage.status, 200);
    assert.match(accountPage.html, new RegExp(`Signed in as <strong>${email}</strong>`));

    // The browser's session (through its cookie) and the sign-in's audit row name both factors.
    const db = t.app.ctx.db;
    const session = await db
      .selectFrom('ui_sessions')
      .innerJoin('sessions', 'sessions.id', 'ui_sessions.session_id')
      .select(['sessions.id', 'sessions.user_id', 'sessions.aal', 'sessions.amr'])
      .where('ui_sessions.cookie_hash', '=', hashSecret(browser.cookies.get('keyhold_session')!))
      .executeTakeFirstOrThrow();
    assert.deepEqual({ aal: session.aal, amr: session.amr }, { aal: 'aal2', amr: ['oauth', 'otp'] });
    const audit = await db
      .selectFrom('audit_logs')
      .select(['details'])
      .where('user_id', '=', session.user_id)
      .where('action', '=', 'auth.oauth_login')
      .orderBy('id', 'desc')
      .executeTakeFirstOrThrow();
    assert.deepEqual([audit.details?.amr, audit.details?.aal], [['oauth', 'otp'], 'aal2']);
  });
});
