// The account page's two-step verification and devices sections, without a browser: TOTP setup
// from the QR code's secret, the recovery codes shown once, new codes, turning it off; the
// sessions list and signing other devices out. Browser flows: hosted-ui-browser.test.ts.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { totpCode } from '../src/modules/mfa/totp.js';
import { deviceLabel } from '../src/modules/hosted-ui/device-sections.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { DATABASE_KINDS } from './helpers/database.js';
import { registerUser, signIn } from './helpers/fixtures.js';
import { pageSignIn } from './helpers/page-client.js';

const UI_ENV = { HOSTED_UI_ENABLED: 'true', FRONTEND_URL: '' };

const recoveryCodesOf = (html: string): string[] => [...html.matchAll(/<li><code>([^<]+)<\/code><\/li>/g)].map((match) => match[1]!);

for (const kind of DATABASE_KINDS) {
  describe(`hosted pages: two-step verification and devices (${kind})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(kind, { env: UI_ENV });
    });
    after(() => t.close());
    const code = (secret: string) => totpCode(secret, t.clock.now());

    test('TOTP is set up from the page\'s QR code and key, and the recovery codes are shown once', async () => {
      const { email } = await registerUser(t.api);
      const browser = await pageSignIn(t.baseUrl, email);
      assert.match((await browser.get('/ui/account')).html, /Set up two-step verification/);
      assert.equal((await browser.post('/ui/account/totp/setup', {})).location, '/ui/account#totp');
      const pending = await browser.get('/ui/account');
      const secret = /id="totp-secret">([A-Z2-7]+)</.exec(pending.html)?.[1];
      assert.ok(secret, 'the key is shown as text');
      const qr = /class="qr-code" src="data:image\/svg\+xml;base64,([^"]+)"/.exec(pending.html)?.[1];
      assert.ok(qr, 'the QR code is an SVG image');
      assert.match(Buffer.from(qr, 'base64').toString('utf8'), /^<svg [^>]*viewBox/);
      // A wrong code: the API's message by the field, still off.
      const wrong = await browser.post('/ui/account/totp/enable', { code: code(secret) === '000000' ? '111111' : '000000' });
      assert.equal(wrong.location, '/ui/account#totp');
      const refused = await browser.get('/ui/account');
      assert.match(refused.html, /Invalid MFA code/);
      assert.match(refused.html, /id="totp-secret"/, 'the setup goes on');
      const enabled = await browser.post('/ui/account/totp/enable', { code: code(secret) });
      assert.equal(enabled.status, 200);
      const codes = recoveryCodesOf(enabled.html);
      assert.equal(codes.length, 10);
      assert.doesNotMatch(enabled.setCookies.join('\n'), new RegExp(codes[0]!), 'the codes never travel in a cookie');
      const on = await browser.get('/ui/account');
      assert.match(on.html, /Two-step verification is on/);
      assert.doesNotMatch(on.html, /id="totp-secret"|id="recovery-codes"/, 'neither the key nor the codes are shown again');
      const user = await t.app.ctx.db.selectFrom('users').select('mfa_enabled').where('email', '=', email).executeTakeFirstOrThrow();
      assert.equal(user.mfa_enabled, true);

      // New recovery codes, with a recovery code: the old ones stop working.
      const renewed = await browser.post('/ui/account/totp/recovery-codes', { code: codes[0]! });
      assert.equal(renewed.status, 200);
      const fresh = recoveryCodesOf(renewed.html);
      assert.equal(fresh.length, 10);
      assert.equal((await browser.post('/ui/account/totp/disable', { code: codes[1]! })).location, '/ui/account#totp');
      assert.match((await browser.get('/ui/account')).html, /Invalid MFA code/);
      // Turning it off with a fresh code.
      t.clock.advanceSeconds(30);
      assert.equal((await browser.post('/ui/account/totp/disable', { code: code(secret) })).location, '/ui/account#totp');
      assert.match((await browser.get('/ui/account')).html, /MFA disabled/);
      const off = await t.app.ctx.db.selectFrom('users').select('mfa_enabled').where('email', '=', email).executeTakeFirstOrThrow();
      assert.equal(off.mfa_enabled, false);
    });

    test('the devices list shows this browser and signs other sessions out', async () => {
      const { email } = await registerUser(t.api);
      const browser = await pageSignIn(t.baseUrl, email);
      const app = await signIn(t.api, email);
      const other = await signIn(t.api, email);
      const page = await browser.get('/ui/account');
      const listed = [...page.html.matchAll(/id="session-([0-9a-f-]{36})"/g)].map((match) => match[1]!);
      assert.equal(listed.length, 3);
      assert.equal([...page.html.matchAll(/This device/g)].length, 1);
      assert.equal([...page.html.matchAll(/>Sign out this device/g)].length, 2, 'no button for this browser\'s own session');
      // End one other session: its token stops working at once.
      const sid = (await t.app.ctx.tokens.verify(app.accessToken, 'access'))!.sid;
      assert.equal((await browser.post(`/ui/account/sessions/${sid}/end`, {})).location, '/ui/account#sessions');
      assert.match((await browser.get('/ui/account')).html, /That device has been signed out/);
      assert.equal((await t.api.get('/auth/me', app.accessToken)).status, 401);
      assert.equal((await t.api.get('/auth/me', other.accessToken)).status, 200);
      // An unknown or malformed id: the API's message, nothing ends.
      await browser.post('/ui/account/sessions/not-a-uuid/end', {});
      assert.match((await browser.get('/ui/account')).html, /Session not found/);
      // Sign out the others: this browser stays signed in.
      await browser.post('/ui/account/sessions/end-others', {});
      assert.match((await browser.get('/ui/account')).html, /Signed out 1 other device\./);
      assert.equal((await t.api.get('/auth/me', other.accessToken)).status, 401);
      assert.equal((await browser.get('/ui/account')).status, 200);
      // Another user's session id is "not found" too.
      const stranger = await registerUser(t.api);
      const theirs = (await t.app.ctx.tokens.verify((await signIn(t.api, stranger.email)).accessToken, 'access'))!;
      await browser.post(`/ui/account/sessions/${theirs.sid}/end`, {});
      assert.match((await browser.get('/ui/account')).html, /Session not found/);
    });

    test('device labels name the browser and system', () => {
      assert.equal(deviceLabel(null), 'Unknown device');
      assert.equal(deviceLabel('Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'), 'Firefox on Linux');
    });
  });
}
