// Every POST of the hosted pages refuses a request without the page's CSRF token (issue 24:
// only sign-in was tested, and a copy of the code that exempted the password-change form passed,
// though that form would let another site spend the account's lockout budget). The routes are
// read from the app's own route table, so a form added later is covered without being listed.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { startTestApp, type TestApp } from './helpers/app.js';
import { DATABASE_KINDS } from './helpers/database.js';
import { registerUser } from './helpers/fixtures.js';
import { pageSignIn } from './helpers/page-client.js';

const UI_ENV = { HOSTED_UI_ENABLED: 'true', FRONTEND_URL: '' };

/** The POST routes under /ui/, from Fastify's printed route tree (one path segment per node). */
function hostedPostRoutes(t: TestApp): string[] {
  const stack: string[] = [];
  const routes: string[] = [];
  for (const line of t.app.printRoutes({ commonPrefix: false, method: 'POST' }).split('\n')) {
    const match = /^(.*?)[├└]── (\S+) \(([^)]*)\)/.exec(line);
    if (!match) continue;
    const depth = match[1]!.length / 4;
    const path = (stack[depth - 1] ?? '') + match[2]!;
    stack[depth] = path;
    stack.length = depth + 1;
    if (path.startsWith('/ui/') && match[3]!.split(', ').includes('POST')) routes.push(path);
  }
  return routes;
}

for (const kind of DATABASE_KINDS) {
  describe(`hosted pages: CSRF on every POST (${kind})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(kind, { env: UI_ENV });
    });
    after(() => t.close());

    test('every POST under /ui/ refuses a form or JSON step without the page\'s token, before doing anything', async () => {
      const routes = hostedPostRoutes(t);
      // The route table was read: the forms the review named are among them.
      for (const path of ['/ui/sign-in', '/ui/account/password', '/ui/account/email', '/ui/account/totp/disable', '/ui/account/passkeys/:id/delete', '/ui/mfa/passkey']) {
        assert.ok(routes.includes(path), `${path} in ${routes.join(' ')}`);
      }
      const { email, user } = await registerUser(t.api);
      const browser = await pageSignIn(t.baseUrl, email);
      await browser.open('/ui/account');
      const auditRows = async () => Number((await sql<{ n: string }>`SELECT count(*) AS n FROM audit_logs WHERE user_id = ${user.id}`.execute(t.app.ctx.db)).rows[0]!.n);
      const before = await auditRows();

      for (const route of routes) {
        const path = route.replace(/:[a-z]+/g, randomUUID());
        // What the forms send, a wrong current password included: none of it may be looked at.
        const fields = { current_password: 'wrong password', new_password: 'another long passphrase', email: 'new@example.com', code: '123456', name: 'x', password: 'wrong password' };
        for (const token of ['', 'forged-token']) {
          const form = await browser.post(path, { ...fields, _csrf: token });
          assert.equal(form.status, 403, `${route} (form, token ${JSON.stringify(token)}): ${form.status}`);
          const json = await browser.postJson(path, { ...fields, _csrf: token });
          assert.equal(json.status, 403, `${route} (JSON, token ${JSON.stringify(token)}): ${json.status}`);
        }
      }

      // Nothing happened: no guess counted toward the lockout, no audit row, still signed in.
      const row = await t.app.ctx.db.selectFrom('users').select(['failed_login_count', 'email', 'locked_until']).where('id', '=', user.id).executeTakeFirstOrThrow();
      assert.deepEqual([row.failed_login_count, row.email, row.locked_until], [0, email, null]);
      assert.equal(await auditRows(), before);
      assert.equal((await browser.open('/ui/account')).status, 200);
      // The control: with the page's token the password form does check (and count) the password.
      const page = await browser.get('/ui/account');
      assert.equal(page.status, 200);
      await browser.post('/ui/account/password', { current_password: 'wrong password', new_password: 'another long passphrase' });
      const counted = await t.app.ctx.db.selectFrom('users').select('failed_login_count').where('id', '=', user.id).executeTakeFirstOrThrow();
      assert.equal(counted.failed_login_count, 1);
    });
  });
}
