// The hosted pages without a browser: CSRF refusal, the session cookie's attributes, the page
// session bound to its Keyhold session, and the configuration. Browser flows: hosted-ui-browser.test.ts.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config.js';
import { textColorOn, contrastRatio, relativeLuminance } from '../src/modules/hosted-ui/brand.js';
import { cookieIsSecure } from '../src/modules/hosted-ui/page-session.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { DATABASE_KINDS } from './helpers/database.js';
import { PASSWORD, registerUser, signIn, uniqueEmail } from './helpers/fixtures.js';
import { PageClient, pageSignIn } from './helpers/page-client.js';

const UI_ENV = { HOSTED_UI_ENABLED: 'true', FRONTEND_URL: '' };

for (const kind of DATABASE_KINDS) {
  describe(`hosted pages (${kind})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(kind, { env: UI_ENV });
    });
    after(() => t.close());

    test('a form post without the page\'s CSRF token is refused with a page, and nothing happens', async () => {
      const { email } = await registerUser(t.api);
      const browser = new PageClient(t.baseUrl);
      await browser.get('/ui/sign-in');
      for (const token of ['', 'forged-token']) {
        const response = await browser.post('/ui/sign-in', { _csrf: token, email, password: PASSWORD });
        assert.equal(response.status, 403);
        assert.match(response.html, /This form has expired/);
        assert.equal(browser.cookies.has('keyhold_session'), false);
      }
      // A token from another browser (its secret cookie differs) is refused too.
      const other = new PageClient(t.baseUrl);
      await other.get('/ui/sign-in');
      const crossed = await browser.post('/ui/sign-in', { _csrf: other.csrfToken, email, password: PASSWORD });
      assert.equal(crossed.status, 403);
      assert.equal((await browser.post('/ui/sign-in', { email, password: PASSWORD })).status, 303);
    });

    test('the session cookie is httpOnly, SameSite=Lax, limited to /ui, and opaque', async () => {
      const { email } = await registerUser(t.api);
      const browser = new PageClient(t.baseUrl);
      await browser.get('/ui/sign-in');
      const response = await browser.post('/ui/sign-in', { email, password: PASSWORD });
      const line = response.setCookies.find((c) => c.startsWith('keyhold_session='));
      assert.ok(line, 'a session cookie is set');
      assert.match(line, /; HttpOnly/i);
      assert.match(line, /; SameSite=Lax/i);
      assert.match(line, /; Path=\/ui(;|$)/);
      assert.match(line, /; Expires=/);
      // PUBLIC_URL defaults to http://127.0.0.1:…, where browsers drop Secure cookies.
      assert.doesNotMatch(line, /; Secure/i);
      const value = browser.cookies.get('keyhold_session')!;
      assert.match(value, /^[A-Za-z0-9_-]{43}$/);
      const stored = await t.app.ctx.db.selectFrom('ui_sessions').select('cookie_hash').execute();
      assert.ok(stored.every((row) => row.cookie_hash !== value), 'only a hash of the cookie is stored');
    });

    test('signing out ends the Keyhold session behind the page', async () => {
      const { email } = await registerUser(t.api);
      const browser = await pageSignIn(t.baseUrl, email);
      assert.equal((await browser.get('/ui/account')).status, 200);
      const out = await browser.post('/ui/sign-out', {});
      assert.equal(out.status, 303);
      assert.equal(browser.cookies.has('keyhold_session'), false);
      const user = await t.app.ctx.db.selectFrom('users').select('id').where('email', '=', email).executeTakeFirstOrThrow();
      const live = await t.app.ctx.db.selectFrom('sessions').select('id').where('user_id', '=', user.id).where('revoked_at', 'is', null).execute();
      assert.equal(live.length, 0);
      const audit = await t.app.ctx.db.selectFrom('audit_logs').select('details').where('user_id', '=', user.id).where('action', '=', 'auth.logout').execute();
      assert.deepEqual(audit.map((row) => row.details), [{ via: 'hosted_ui' }]);
    });

    test('signing in again on a signed-in browser ends its earlier session (another user\'s too)', async () => {
      const first = await registerUser(t.api);
      const second = await registerUser(t.api);
      const browser = await pageSignIn(t.baseUrl, first.email);
      const earlierCookie = browser.cookies.get('keyhold_session');
      // A direct post (the sign-in page itself would send this browser on to its account).
      await browser.get('/ui/account');
      const again = await browser.post('/ui/sign-in', { email: second.email, password: PASSWORD });
      assert.equal(again.location, '/ui/account');
      assert.notEqual(browser.cookies.get('keyhold_session'), earlierCookie, 'a new cookie');
      assert.match((await browser.get('/ui/account')).html, new RegExp(`Signed in as <strong>${second.email}</strong>`));
      const firstUser = await t.app.ctx.db.selectFrom('users').select('id').where('email', '=', first.email).executeTakeFirstOrThrow();
      const live = await t.app.ctx.db.selectFrom('sessions').select('id').where('user_id', '=', firstUser.id).where('revoked_at', 'is', null).execute();
      assert.equal(live.length, 0, 'the first user\'s page session ended');
      const stale = new PageClient(t.baseUrl);
      stale.cookies.set('keyhold_session', earlierCookie!);
      assert.equal((await stale.get('/ui/account')).location, '/ui/sign-in?next=/ui/account');
    });

    test('ending the session from the API (a password change) ends the page session', async () => {
      const { email } = await registerUser(t.api);
      const browser = await pageSignIn(t.baseUrl, email);
      assert.equal((await browser.get('/ui/account')).status, 200);
      const { accessToken } = await signIn(t.api, email);
      const changed = await t.api.post('/auth/password/change', { current_password: PASSWORD, new_password: 'a whole new passphrase' }, accessToken);
      assert.equal(changed.status, 200);
      const account = await browser.get('/ui/account');
      assert.equal(account.status, 303);
      assert.equal(account.location, '/ui/sign-in?next=/ui/account');
    });

    test('a deactivated user is signed out of the pages', async () => {
      const { email } = await registerUser(t.api);
      const browser = await pageSignIn(t.baseUrl, email);
      await t.app.ctx.db.updateTable('users').set({ is_active: false }).where('email', '=', email).execute();
      assert.equal((await browser.get('/ui/account')).status, 303);
    });

    test('a refused form comes back with the message next to the field and what was typed, never the password', async () => {
      const browser = new PageClient(t.baseUrl);
      await browser.get('/ui/sign-up');
      const email = uniqueEmail();
      const posted = await browser.post('/ui/sign-up', { name: 'Ada', email, password: 'short' });
      assert.equal(posted.status, 303);
      // Not even in the cookie that carries the form back.
      const carried = Buffer.from(browser.cookies.get('keyhold_flash')!, 'base64url').toString('utf8');
      assert.match(carried, /Ada/);
      assert.doesNotMatch(carried, /short/);
      const page = await browser.get(posted.location!);
      assert.match(page.html, /<p class="field-error" id="f-password-error">.*Use at least 8 characters\./);
      assert.match(page.html, /aria-describedby="f-password-hint f-password-error"/);
      assert.match(page.html, new RegExp(`value="${email}"`));
      assert.doesNotMatch(page.html, /value="short"/);
      // Read once: a reload shows a clean form.
      assert.doesNotMatch((await browser.get('/ui/sign-up')).html, /field-error/);
      // The API's own messages, word for word.
      await browser.post('/ui/sign-in', { email, password: 'wrong password' }).then((r) => browser.get(r.location!)).then((r) => {
        assert.match(r.html, /role="alert"><p>Incorrect email or password<\/p>/);
      });
    });

    test('pages carry a strict Content-Security-Policy and are not cached', async () => {
      const response = await fetch(`${t.baseUrl}/ui/sign-in`);
      const policy = response.headers.get('content-security-policy') ?? '';
      assert.match(policy, /default-src 'self'/);
      assert.doesNotMatch(policy, /unsafe-inline/);
      assert.equal(response.headers.get('cache-control'), 'no-store');
      const html = await response.text();
      assert.doesNotMatch(html, /<script(?![^>]*\ssrc=)/, 'no inline script');
      assert.doesNotMatch(html, /\sstyle=/, 'no style attribute');
    });

    test('served at an IP address (an RP ID no browser accepts), the pages offer no passkey', async () => {
      assert.match(t.app.ctx.config.webauthn.rpId, /^127\.0\.0\.1$/);
      const { email } = await registerUser(t.api);
      const browser = new PageClient(t.baseUrl);
      const signIn = (await browser.get('/ui/sign-in')).html;
      assert.doesNotMatch(signIn, /data-passkey|passkey\.js/);
      assert.match(signIn, /Passkeys are not available at this address/);
      await browser.post('/ui/sign-in', { email, password: PASSWORD });
      const account = await browser.get('/ui/account');
      assert.match(account.html, /Passkeys work only on a site with a domain name/);
      assert.doesNotMatch(account.html, /data-passkey/);
    });

    test('the reset email links to the reset page when FRONTEND_URL is unset', () => {
      assert.equal(t.app.ctx.config.frontendUrl, `${t.app.ctx.config.publicUrl}/ui`);
    });
  });
}

describe('hosted pages: off by default, configuration', () => {
  test('without HOSTED_UI_ENABLED there is no /ui/', async () => {
    const t = await startTestApp('pglite');
    try {
      assert.equal((await fetch(`${t.baseUrl}/ui/sign-in`)).status, 404);
      assert.equal(t.app.ctx.config.frontendUrl, 'http://frontend.test');
    } finally {
      await t.close();
    }
  });

  test('FRONTEND_URL wins over the pages; without it and without the pages, the old default stays', () => {
    assert.equal(loadConfig({ HOSTED_UI_ENABLED: 'true', FRONTEND_URL: 'https://app.example' }).frontendUrl, 'https://app.example');
    assert.equal(loadConfig({}).frontendUrl, 'http://localhost:3000');
    assert.equal(loadConfig({ HOSTED_UI_ENABLED: 'true', PUBLIC_URL: 'https://id.example/' }).frontendUrl, 'https://id.example/ui');
  });

  test('UI_PRIMARY_COLOR must be a hex colour, named in the error', () => {
    for (const bad of ['red', '#12', '#1234567', 'url(x)', '#12345g']) {
      assert.throws(() => loadConfig({ UI_PRIMARY_COLOR: bad }), (err) => err instanceof ConfigError && err.variable === 'UI_PRIMARY_COLOR');
    }
    assert.equal(loadConfig({ UI_PRIMARY_COLOR: '#ABC' }).hostedUi.primaryColor, '#abc');
  });

  test('the Secure attribute is left off only on plain-HTTP loopback', () => {
    assert.equal(cookieIsSecure('http://localhost:8000'), false);
    assert.equal(cookieIsSecure('http://127.0.0.1:8000'), false);
    assert.equal(cookieIsSecure('https://localhost'), true);
    assert.equal(cookieIsSecure('http://id.example'), true);
    assert.equal(cookieIsSecure('http://0.0.0.0:8000'), true);
  });

  test('text on the brand colour always reaches 4.5:1', () => {
    for (const color of ['#2563eb', '#ffff00', '#777777', '#000', '#fff', '#e11d48', '#808080', '#767676']) {
      const text = textColorOn(color) === '#000000' ? 0 : 1;
      assert.ok(contrastRatio(relativeLuminance(color), text) >= 4.5, color);
    }
  });
});

describe('hosted pages: sign-up with invite codes', () => {
  test('REQUIRE_INVITE_CODE (self-serve off) adds the field, and the API\'s refusal is shown by the form', async () => {
    const t = await startTestApp('pglite', { env: { ...UI_ENV, REQUIRE_INVITE_CODE: 'true', SELF_SERVE_ENABLED: 'false' } });
    try {
      const browser = new PageClient(t.baseUrl);
      const page = await browser.get('/ui/sign-up');
      assert.match(page.html, /<label for="f-invite_code">Invite code<\/label>/);
      const email = uniqueEmail();
      const refused = await browser.post('/ui/sign-up', { name: 'Ada', email, password: PASSWORD, invite_code: '' });
      const again = await browser.get(refused.location!);
      assert.match(again.html, /role="alert"><p>Invite code is required<\/p>/);
      const wrong = await browser.post('/ui/sign-up', { name: 'Ada', email, password: PASSWORD, invite_code: 'NOPE' });
      const shown = await browser.get(wrong.location!);
      assert.match(shown.html, /role="alert"><p>Invalid invite code<\/p>/);
      assert.match(shown.html, /name="invite_code" type="text" value="NOPE"/);
      // The account-invitation link of the email lands on the form with its code filled in.
      const invited = await browser.open('/ui/register?account_invite_code=ABC123');
      assert.match(invited.html, /name="account_invite_code" type="text" value="ABC123"/);
    } finally {
      await t.close();
    }
  });
});
