// The pages' passkey steps without a browser (a software authenticator makes the WebAuthn
// objects): adding, renaming and removing a passkey on the account page, signing in with one,
// a passkey as the MFA step, and what the JSON steps answer to bad input. The same flows in
// Chromium with its virtual authenticator: hosted-ui-browser.test.ts.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from './helpers/app.js';
import { SoftwareAuthenticator } from './helpers/authenticator.js';
import { DATABASE_KINDS } from './helpers/database.js';
import { PASSWORD, registerAndSignIn, registerUser } from './helpers/fixtures.js';
import { codeAt, enrolTotp } from './helpers/mfa.js';
import { PageClient, pageSignIn } from './helpers/page-client.js';

const ORIGIN = 'https://keyhold.test';
// The pages' PUBLIC_URL is the origin the software authenticator signs for; the app listens on
// 127.0.0.1 all the same. WEBAUTHN_ORIGINS is left unset: the pages' origin is accepted by default.
const UI_ENV = { HOSTED_UI_ENABLED: 'true', FRONTEND_URL: '', PUBLIC_URL: ORIGIN };

for (const kind of DATABASE_KINDS) {
  describe(`hosted pages: passkeys (${kind})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(kind, { env: UI_ENV });
    });
    after(() => t.close());

    /** The account page's two JSON steps, as passkey.js runs them. */
    async function addPasskey(browser: PageClient, authenticator: SoftwareAuthenticator, name: string, knobs = {}) {
      const started = await browser.postJson('/ui/account/passkeys/options', { name });
      assert.equal(started.status, 200, started.html);
      const response = authenticator.register(started.json.options, knobs);
      return browser.postJson('/ui/account/passkeys', { name, response });
    }

    // Issue 24: an MFA user whose page session is aal1 (TOTP enabled on this page after a
    // password sign-in) adds or removes a passkey only with a code, which the page asks for.
    test('a page session without the second factor adds and removes a passkey with a code', async () => {
      const { email } = await registerUser(t.api);
      const browser = await pageSignIn(t.baseUrl, email);
      await browser.get('/ui/account');
      await browser.post('/ui/account/totp/setup', {});
      const secret = /id="totp-secret">([A-Z2-7]+)</.exec((await browser.get('/ui/account')).html)![1]!;
      assert.equal((await browser.post('/ui/account/totp/enable', { code: codeAt(secret, t.clock) })).status, 200);
      t.clock.advanceSeconds(30);
      const page = await browser.get('/ui/account');
      assert.match(page.html, /You signed in without your second factor/);

      const authenticator = new SoftwareAuthenticator(ORIGIN);
      const refused = await browser.postJson('/ui/account/passkeys/options', { name: 'Phone' });
      assert.deepEqual([refused.status, refused.json], [403, { detail: 'A second factor is required for this change', code: 'second_factor_required' }]);
      const started = await browser.postJson('/ui/account/passkeys/options', { name: 'Phone', code: codeAt(secret, t.clock) });
      assert.equal(started.status, 200, started.html);
      const added = await browser.postJson('/ui/account/passkeys', { name: 'Phone', response: authenticator.register(started.json.options) });
      assert.equal(added.status, 200, added.html);
      t.clock.advanceSeconds(30);

      const listed = await browser.get('/ui/account');
      const id = /id="passkey-([0-9a-f-]{36})"/.exec(listed.html)![1]!;
      assert.match(listed.html, new RegExp(`id="f-passkey-${id}-code"`), 'the remove form asks for a code');
      await browser.post(`/ui/account/passkeys/${id}/delete`, {});
      assert.match((await browser.get('/ui/account')).html, new RegExp(`id="passkey-${id}"`), 'kept without a code');
      assert.equal((await browser.post(`/ui/account/passkeys/${id}/delete`, { code: codeAt(secret, t.clock) })).location, '/ui/account#passkeys');
      assert.match((await browser.get('/ui/account')).html, /You have no passkeys yet/);
    });

    async function passkeySignIn(browser: PageClient, authenticator: SoftwareAuthenticator, knobs = {}) {
      await browser.get('/ui/sign-in');
      const started = await browser.postJson('/ui/passkey/options', {});
      assert.equal(started.status, 200, started.html);
      assert.ok(started.json.challenge_id);
      return browser.postJson('/ui/passkey/sign-in', { challenge_id: started.json.challenge_id, response: authenticator.assert(started.json.options, knobs) });
    }

    test('a passkey is added on the account page, renamed, signs in, and once removed no longer does', async () => {
      const { email } = await registerUser(t.api);
      const browser = await pageSignIn(t.baseUrl, email);
      const page = await browser.get('/ui/account');
      assert.match(page.html, /id="passkeys"/);
      assert.match(page.html, /You have no passkeys yet/);
      assert.match(page.html, /data-passkey="create" data-options="\/ui\/account\/passkeys\/options"/);
      assert.match(page.html, /<script src="\/ui\/assets\/webauthn.js" defer><\/script>\s*<script src="\/ui\/assets\/passkey.js" defer><\/script>/);
      // The ceremony is @simplewebauthn/browser's, served from the package.
      const bundle = await fetch(`${t.baseUrl}/ui/assets/webauthn.js`);
      assert.equal(bundle.status, 200);
      assert.match(bundle.headers.get('content-type') ?? '', /^text\/javascript/);
      assert.match(await bundle.text(), /SimpleWebAuthnBrowser/);
      await browser.get('/ui/account');

      const authenticator = new SoftwareAuthenticator(ORIGIN);
      const added = await addPasskey(browser, authenticator, 'Work laptop');
      assert.equal(added.status, 200, added.html);
      assert.deepEqual(added.json, { location: '/ui/account#passkeys' });
      const listed = await browser.get('/ui/account');
      assert.match(listed.html, /Passkey &quot;Work laptop&quot; added/);
      assert.match(listed.html, /<strong>Work laptop<\/strong>/);
      assert.match(listed.html, /not used yet/);
      const id = /id="passkey-([0-9a-f-]{36})"/.exec(listed.html)?.[1];
      assert.ok(id);

      assert.equal((await browser.post(`/ui/account/passkeys/${id}/rename`, { name: 'Old laptop' })).location, '/ui/account#passkeys');
      assert.match((await browser.get('/ui/account')).html, /<strong>Old laptop<\/strong>/);
      assert.equal((await browser.post(`/ui/account/passkeys/${id}/rename`, { name: '   ' })).location, '/ui/account#passkeys');
      // The refusal sits by that passkey's name field.
      assert.match((await browser.get('/ui/account')).html, new RegExp(`id="f-passkey-${id}-error"><span class="visually-hidden">Error: </span>This field is required.</p>\\s*<input id="f-passkey-${id}"[^>]* aria-invalid="true"`));

      // A browser with no session signs in with it: straight to the account page.
      const other = new PageClient(t.baseUrl);
      const signedIn = await passkeySignIn(other, authenticator);
      assert.equal(signedIn.status, 200, signedIn.html);
      assert.deepEqual(signedIn.json, { location: '/ui/account' });
      assert.ok(other.cookies.has('keyhold_session'));
      const account = await other.get('/ui/account');
      assert.equal(account.status, 200);
      assert.match(account.html, /last used/);
      const audit = await t.app.ctx.db.selectFrom('audit_logs').select('action').where('action', '=', 'auth.passkey_login').execute();
      assert.ok(audit.length >= 1);

      await browser.get('/ui/account');
      assert.equal((await browser.post(`/ui/account/passkeys/${id}/delete`, {})).location, '/ui/account#passkeys');
      const removed = await browser.get('/ui/account');
      assert.match(removed.html, /It no longer signs you in/);
      assert.match(removed.html, /You have no passkeys yet/);
      const refused = await passkeySignIn(new PageClient(t.baseUrl), authenticator);
      assert.equal(refused.status, 401);
      assert.deepEqual(refused.json, { detail: 'Passkey sign-in failed', code: 'passkey_sign_in_failed' });
    });

    test('with TOTP on, the MFA step offers a passkey, and a passkey answers it', async () => {
      const user = await registerAndSignIn(t.api);
      const authenticator = new SoftwareAuthenticator(ORIGIN);
      const browser = await pageSignIn(t.baseUrl, user.email);
      assert.equal((await addPasskey(browser, authenticator, 'Phone')).status, 200);
      await enrolTotp(t.api, t.clock, user.accessToken);

      const fresh = new PageClient(t.baseUrl);
      await fresh.get('/ui/sign-in');
      const first = await fresh.post('/ui/sign-in', { email: user.email, password: PASSWORD });
      assert.equal(first.location, '/ui/mfa?passkey=1');
      const mfaPage = await fresh.get(first.location!);
      assert.match(mfaPage.html, /data-passkey="get" data-options="\/ui\/mfa\/passkey\/options"/);
      // A wrong code keeps the passkey on offer.
      assert.equal((await fresh.post('/ui/mfa', { code: 'not-a-code', passkey: '1' })).location, '/ui/mfa?passkey=1');
      await fresh.get('/ui/mfa?passkey=1');
      const started = await fresh.postJson('/ui/mfa/passkey/options', {});
      assert.equal(started.status, 200, started.html);
      const done = await fresh.postJson('/ui/mfa/passkey', { response: authenticator.assert(started.json.options) });
      assert.equal(done.status, 200, done.html);
      assert.deepEqual(done.json, { location: '/ui/account' });
      assert.ok(fresh.cookies.has('keyhold_session'));
      assert.equal(fresh.cookies.has('keyhold_mfa'), false);

      // A passkey without user verification is one factor: the code is still asked for, and
      // the same passkey is not offered twice.
      const unverified = await passkeySignIn(new PageClient(t.baseUrl), authenticator, { userVerified: false });
      assert.equal(unverified.status, 200, unverified.html);
      assert.deepEqual(unverified.json, { location: '/ui/mfa' });
    });

    test('the JSON steps refuse bad input with a message, never a page or a 500', async () => {
      const user = await registerAndSignIn(t.api);
      const browser = await pageSignIn(t.baseUrl, user.email);
      // No CSRF token: refused before anything is stored.
      const forged = await browser.postJson('/ui/account/passkeys/options', { _csrf: 'forged' });
      assert.equal(forged.status, 403);
      assert.match(forged.json.detail, /This form has expired/);
      assert.equal(forged.json.code, 'form_expired');
      // A name the API refuses is refused before the browser makes a credential.
      const long = await browser.postJson('/ui/account/passkeys/options', { name: 'x'.repeat(101) });
      assert.equal(long.status, 400);
      assert.equal(long.json.detail, 'Name: Use at most 100 characters.');
      assert.equal(long.json.field, 'name', 'the script marks the field');
      // Not a credential.
      for (const response of [undefined, 'text', { id: 'x' }]) {
        const bad = await browser.postJson('/ui/account/passkeys', { response });
        assert.equal(bad.status, 400, JSON.stringify(response));
        assert.deepEqual([bad.json.detail, bad.json.code], ['The passkey response could not be read. Try again.', 'passkey_response_unreadable']);
      }
      const badSignIn = await browser.postJson('/ui/passkey/sign-in', { challenge_id: 'nope', response: {} });
      assert.equal(badSignIn.status, 400);
      // A credential for a challenge this user never got.
      const stranger = new SoftwareAuthenticator(ORIGIN);
      const spoofed = await browser.postJson('/ui/account/passkeys', { response: stranger.register({ challenge: 'bm90LWEtY2hhbGxlbmdl', rp: { id: 'keyhold.test' }, user: { id: 'eA' } }) });
      assert.equal(spoofed.status, 400);
      assert.deepEqual([spoofed.json.detail, spoofed.json.code], ['Passkey registration failed', 'passkey_registration_failed']);
      // Signed out: the script is told to go and sign in.
      const signedOut = new PageClient(t.baseUrl);
      await signedOut.get('/ui/sign-in');
      const closed = await signedOut.postJson('/ui/account/passkeys/options', {});
      assert.equal(closed.status, 401);
      assert.deepEqual([closed.json.detail, closed.json.code], ['Your session has ended. Sign in again.', 'session_ended']);
      assert.equal(closed.json.location, '/ui/sign-in?next=/ui/account', 'the script goes to sign in');
      // No MFA cookie: the MFA step's options are refused; a dead token goes back to sign in.
      assert.equal((await signedOut.postJson('/ui/mfa/passkey/options', {})).status, 401);
      signedOut.cookies.set('keyhold_mfa', 'not-a-token');
      const dead = await signedOut.postJson('/ui/mfa/passkey', { response: stranger.assert({ challenge: 'eA', rpId: 'keyhold.test' }) });
      assert.equal(dead.status, 401);
      assert.equal(dead.json.location, '/ui/sign-in');
      assert.equal(signedOut.cookies.has('keyhold_mfa'), false);
      assert.match((await signedOut.get('/ui/sign-in')).html, /Invalid or expired MFA token/);
      // A form post (the script did not run): back to the page, saying why.
      await browser.get('/ui/account');
      assert.equal((await browser.post('/ui/account/passkeys', { name: 'x' })).location, '/ui/account#passkeys');
      assert.match((await browser.get('/ui/account')).html, /Passkeys need JavaScript/);
      // An id that is not a passkey of this user.
      assert.equal((await browser.post('/ui/account/passkeys/not-an-id/delete', {})).location, '/ui/account#passkeys');
      assert.match((await browser.get('/ui/account')).html, /Passkey not found/);
      assert.doesNotMatch(t.logs.join(''), /"level":50/, 'nothing was logged as a server error');
    });

    test('the code step on /ui/mfa still works for a user who also has a passkey', async () => {
      const user = await registerAndSignIn(t.api);
      const browser = await pageSignIn(t.baseUrl, user.email);
      assert.equal((await addPasskey(browser, new SoftwareAuthenticator(ORIGIN), '')).status, 200);
      assert.match((await browser.get('/ui/account')).html, /<strong>Passkey<\/strong>/, 'a blank name is the default');
      const enrolled = await enrolTotp(t.api, t.clock, user.accessToken);
      const fresh = new PageClient(t.baseUrl);
      await fresh.get('/ui/sign-in');
      await fresh.post('/ui/sign-in', { email: user.email, password: PASSWORD });
      await fresh.get('/ui/mfa?passkey=1');
      assert.equal((await fresh.post('/ui/mfa', { code: codeAt(enrolled.secret, t.clock), passkey: '1' })).location, '/ui/account');
    });
  });
}
