// The hosted pages' second step: an MFA-enrolled user's page sign-in keeps the mfa_token in a
// short-lived cookie and asks for a code at /ui/mfa; there is no page session before it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from './helpers/app.js';
import { DATABASE_KINDS } from './helpers/database.js';
import { PASSWORD, registerAndSignIn } from './helpers/fixtures.js';
import { codeAt, enrolTotp, type Enrolled } from './helpers/mfa.js';
import { PageClient } from './helpers/page-client.js';

const UI_ENV = { HOSTED_UI_ENABLED: 'true', FRONTEND_URL: '' };

for (const kind of DATABASE_KINDS) {
  describe(`hosted pages: the MFA step (${kind})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(kind, { env: UI_ENV });
    });
    after(() => t.close());

    async function enrolledUser(): Promise<{ email: string; enrolled: Enrolled }> {
      const user = await registerAndSignIn(t.api);
      return { email: user.email, enrolled: await enrolTotp(t.api, t.clock, user.accessToken) };
    }

    /** The first factor on the page: answers with the way to /ui/mfa and no session. */
    async function firstFactor(email: string): Promise<PageClient> {
      const browser = new PageClient(t.baseUrl);
      await browser.get('/ui/sign-in');
      const response = await browser.post('/ui/sign-in', { email, password: PASSWORD });
      assert.equal(response.status, 303);
      assert.equal(response.location, '/ui/mfa');
      assert.equal(browser.cookies.has('keyhold_session'), false, 'no page session before the second factor');
      const line = response.setCookies.find((c) => c.startsWith('keyhold_mfa='));
      assert.ok(line, 'the mfa_token is kept in a cookie');
      assert.match(line, /; HttpOnly/i);
      assert.match(line, /; SameSite=Lax/i);
      assert.match(line, /; Path=\/ui(;|$)/);
      assert.match(line, /; Max-Age=300(;|$)/);
      return browser;
    }

    test('a page sign-in of an enrolled user asks for the code, and only the code opens the account', async () => {
      const { email, enrolled } = await enrolledUser();
      const browser = await firstFactor(email);
      // The account page is still closed.
      assert.equal((await browser.get('/ui/account')).location, '/ui/sign-in?next=/ui/account');
      const form = await browser.get('/ui/mfa');
      assert.equal(form.status, 200);
      assert.match(form.html, /autocomplete="one-time-code"/);
      // A wrong code: the API's message by the field, still no session.
      const wrong = await browser.post('/ui/mfa', { code: '000000' === codeAt(enrolled.secret, t.clock) ? '111111' : '000000' });
      assert.equal(wrong.status, 303);
      assert.equal(wrong.location, '/ui/mfa');
      const shown = await browser.get('/ui/mfa');
      assert.match(shown.html, /Invalid MFA code/);
      assert.match(shown.html, /aria-invalid="true"/);
      assert.equal(browser.cookies.has('keyhold_session'), false);
      // Without the page's CSRF token the code is not even looked at.
      assert.equal((await browser.post('/ui/mfa', { _csrf: 'forged', code: codeAt(enrolled.secret, t.clock) })).status, 403);
      const right = await browser.post('/ui/mfa', { code: codeAt(enrolled.secret, t.clock) });
      assert.equal(right.status, 303);
      assert.equal(right.location, '/ui/account');
      assert.ok(browser.cookies.has('keyhold_session'));
      assert.equal(browser.cookies.has('keyhold_mfa'), false, 'the mfa cookie is cleared');
      assert.equal((await browser.get('/ui/account')).status, 200);
    });

    test('a recovery code works once, and a dead token sends the user back to sign in', async () => {
      const { email, enrolled } = await enrolledUser();
      const browser = await firstFactor(email);
      await browser.get('/ui/mfa');
      const ok = await browser.post('/ui/mfa', { code: enrolled.recoveryCodes[0]! });
      assert.equal(ok.location, '/ui/account');
      // The same recovery code again, in a new sign-in: refused.
      const again = await firstFactor(email);
      await again.get('/ui/mfa');
      assert.equal((await again.post('/ui/mfa', { code: enrolled.recoveryCodes[0]! })).location, '/ui/mfa');
      // A forged or expired token: back to the first factor with the API's message.
      again.cookies.set('keyhold_mfa', 'not-a-token');
      const dead = await again.post('/ui/mfa', { code: codeAt(enrolled.secret, t.clock) });
      assert.equal(dead.location, '/ui/sign-in');
      assert.match((await again.get('/ui/sign-in')).html, /Invalid or expired MFA token/);
      assert.equal(again.cookies.has('keyhold_session'), false);
      // Without the cookie there is no MFA page.
      assert.equal((await new PageClient(t.baseUrl).get('/ui/mfa')).location, '/ui/sign-in');
    });
  });
}
