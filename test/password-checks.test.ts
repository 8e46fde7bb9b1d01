// Every check of a password counts toward the per-account lockout, not only login's: a stolen
// access token must not buy unlimited guesses through PATCH /auth/me or a password change.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestApp } from './helpers/app.js';
import { DATABASE_KINDS } from './helpers/database.js';
import { PASSWORD, registerAndSignIn, uniqueEmail } from './helpers/fixtures.js';

for (const kind of DATABASE_KINDS) {
  describe(`password checks outside login (${kind})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(kind);
    });
    after(() => t.close());

    const changeEmail = (token: string, password: string) => t.api.patch('/auth/me', { email: uniqueEmail(), current_password: password }, token);
    const changePassword = (token: string, password: string) =>
      t.api.post('/auth/password/change', { current_password: password, new_password: 'a-brand-new-passphrase' }, token);
    const auditCount = async (userId: string, action: string) =>
      (await t.app.ctx.db.selectFrom('audit_logs').select('id').where('user_id', '=', userId).where('action', '=', action).execute()).length;

    it('locks the account after 10 wrong current passwords, across email and password changes', async () => {
      const u = await registerAndSignIn(t.api);
      for (let i = 0; i < 5; i++) {
        const wrong = await changeEmail(u.accessToken, 'not the password');
        assert.deepEqual([wrong.status, wrong.body], [401, { detail: 'Current password is incorrect', code: 'current_password_incorrect' }]);
      }
      for (let i = 0; i < 5; i++) assert.equal((await changePassword(u.accessToken, 'not the password')).status, 401);
      assert.equal(await auditCount(u.id, 'auth.account_locked'), 1);
      assert.equal(await auditCount(u.id, 'auth.password_check_failed'), 10);

      // Locked: the right password is refused everywhere, with the same answers as a wrong one.
      const locked = await changeEmail(u.accessToken, PASSWORD);
      assert.deepEqual([locked.status, locked.body], [401, { detail: 'Current password is incorrect', code: 'current_password_incorrect' }]);
      assert.equal((await changePassword(u.accessToken, PASSWORD)).status, 401);
      assert.equal((await t.api.post('/auth/login/json', { email: u.email, password: PASSWORD })).status, 401);
      const row = await t.app.ctx.db.selectFrom('users').select('email').where('id', '=', u.id).executeTakeFirstOrThrow();
      assert.equal(row.email, u.email, 'nothing changed while locked');

      t.clock.advanceSeconds(61);
      assert.equal((await changeEmail(u.accessToken, PASSWORD)).status, 200);
    });

    it('counts wrong guesses from login and from a signed-in check in one counter, cleared by a right one', async () => {
      const u = await registerAndSignIn(t.api);
      for (let i = 0; i < 9; i++) assert.equal((await changeEmail(u.accessToken, 'not the password')).status, 401);
      // A right password starts the count afresh, as a login does.
      assert.equal((await t.api.patch('/auth/me', { email: u.email.toUpperCase(), current_password: PASSWORD }, u.accessToken)).status, 200);
      let row = await t.app.ctx.db.selectFrom('users').select(['failed_login_count']).where('id', '=', u.id).executeTakeFirstOrThrow();
      // Same address: no password check happened, so the count stands.
      assert.equal(row.failed_login_count, 9);
      const other = uniqueEmail();
      assert.equal((await t.api.patch('/auth/me', { email: other, current_password: PASSWORD }, u.accessToken)).status, 200);
      row = await t.app.ctx.db.selectFrom('users').select(['failed_login_count']).where('id', '=', u.id).executeTakeFirstOrThrow();
      assert.equal(row.failed_login_count, 0);

      for (let i = 0; i < 9; i++) assert.equal((await t.api.post('/auth/login/json', { email: other, password: 'nope nope nope' })).status, 401);
      assert.equal((await changePassword(u.accessToken, 'not the password')).status, 401, 'the tenth guess locks');
      assert.equal((await changePassword(u.accessToken, PASSWORD)).status, 401);
      assert.equal((await t.api.post('/auth/login/json', { email: other, password: PASSWORD })).status, 401);
    });

    it('lets no more than 10 of 25 parallel wrong checks be tried', async () => {
      const u = await registerAndSignIn(t.api);
      const results = await Promise.all(Array.from({ length: 25 }, () => changeEmail(u.accessToken, 'not the password')));
      assert.ok(results.every((r) => r.status === 401));
      const rows = await t.app.ctx.db.selectFrom('audit_logs').select('details').where('user_id', '=', u.id)
        .where('action', '=', 'auth.password_check_failed').execute();
      assert.equal(rows.filter((r) => r.details.reason === 'bad_password').length, 10);
      assert.equal(rows.filter((r) => r.details.reason === 'account_locked').length, 15);
    });

    it('keeps only a well-formed email of a failed login for an unknown user, never other text', async () => {
      const typedPassword = 'Tr0ub4dor&3-typed-into-the-username';
      assert.equal((await t.api.request('POST', '/auth/login', { form: { username: typedPassword, password: 'x' } })).status, 401);
      const unknown = uniqueEmail('nobody');
      assert.equal((await t.api.post('/auth/login/json', { email: unknown, password: 'whatever it is' })).status, 401);
      const rows = await t.app.ctx.db.selectFrom('audit_logs').select('details').where('action', '=', 'auth.login_failed').where('user_id', 'is', null).execute();
      const details = rows.map((row) => JSON.stringify(row.details));
      assert.ok(details.every((text) => !text.includes(typedPassword)), details.join('\n'));
      assert.ok(details.some((text) => text.includes(unknown)));
      assert.ok(rows.some((row) => row.details.reason === 'unknown_email' && !('email' in row.details)));
    });
  });
}
