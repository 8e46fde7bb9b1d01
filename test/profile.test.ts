import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestApp } from './helpers/app.js';
import { DATABASE_KINDS } from './helpers/database.js';
import { PASSWORD, registerAndSignIn, uniqueEmail } from './helpers/fixtures.js';
import { queuedEmails } from './helpers/jobs.js';

for (const kind of DATABASE_KINDS) {
  describe(`profile (${kind})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(kind);
    });
    after(() => t.close());

    it('returns the user without any secret', async () => {
      const u = await registerAndSignIn(t.api);
      const me = await t.api.get('/auth/me', u.accessToken);
      assert.equal(me.status, 200);
      assert.deepEqual(Object.keys(me.body).sort(), [
        'account_id', 'account_role', 'created_at', 'email', 'email_verified_at', 'has_password', 'id', 'is_active',
        'job_title', 'last_login', 'mfa_enabled', 'must_change_password', 'name', 'phone', 'role', 'timezone',
      ]);
      assert.ok(me.body.last_login);
    });

    it('answers 401 with a Bearer challenge without a valid token, 403 for a deactivated user', async () => {
      const u = await registerAndSignIn(t.api);
      for (const token of [undefined, 'garbage', `${u.accessToken}x`]) {
        const res = await t.api.get('/auth/me', token);
        assert.deepEqual([res.status, res.body], [401, { detail: 'Could not validate credentials', code: 'not_authenticated' }]);
        assert.equal(res.headers.get('www-authenticate'), 'Bearer');
      }
      const basic = await t.api.request('GET', '/auth/me', { headers: { authorization: 'Basic abc' } });
      assert.equal(basic.status, 401);
      await t.app.ctx.db.updateTable('users').set({ is_active: false }).where('id', '=', u.id).execute();
      const inactive = await t.api.get('/auth/me', u.accessToken);
      assert.deepEqual([inactive.status, inactive.body], [403, { detail: 'Inactive user', code: 'inactive_user' }]);
    });

    it('updates profile fields, clears nullable ones and audits the change', async () => {
      const u = await registerAndSignIn(t.api);
      const res = await t.api.patch('/auth/me', { name: 'New Name', phone: '+1 555', job_title: 'SRE', timezone: 'Europe/Paris' }, u.accessToken);
      assert.equal(res.status, 200);
      assert.deepEqual([res.body.name, res.body.phone, res.body.job_title, res.body.timezone], ['New Name', '+1 555', 'SRE', 'Europe/Paris']);
      const cleared = await t.api.patch('/auth/me', { phone: null }, u.accessToken);
      assert.equal(cleared.body.phone, null);
      assert.equal(cleared.body.job_title, 'SRE');
      const empty = await t.api.patch('/auth/me', {}, u.accessToken);
      assert.equal(empty.status, 200);
      const events = await t.app.ctx.db.selectFrom('audit_logs').select('action').where('user_id', '=', u.id).where('action', '=', 'auth.profile_update').execute();
      assert.equal(events.length, 2);
    });

    it('changes the email only with the current password, and clears its verification', async () => {
      const u = await registerAndSignIn(t.api);
      await t.app.ctx.db.updateTable('users').set({ email_verified_at: new Date() }).where('id', '=', u.id).execute();
      const newEmail = uniqueEmail('moved');
      const noPassword = await t.api.patch('/auth/me', { email: newEmail }, u.accessToken);
      assert.deepEqual([noPassword.status, noPassword.body], [400, { detail: 'Current password is required to change email', code: 'current_password_required' }]);
      const wrong = await t.api.patch('/auth/me', { email: newEmail, current_password: 'nope nope' }, u.accessToken);
      assert.deepEqual([wrong.status, wrong.body], [401, { detail: 'Current password is incorrect', code: 'current_password_incorrect' }]);
      const other = await registerAndSignIn(t.api);
      const taken = await t.api.patch('/auth/me', { email: other.email.toUpperCase(), current_password: PASSWORD }, u.accessToken);
      assert.deepEqual([taken.status, taken.body], [400, { detail: 'Email already registered', code: 'email_already_registered' }]);
      const ok = await t.api.patch('/auth/me', { email: newEmail.toUpperCase(), current_password: PASSWORD }, u.accessToken);
      assert.equal(ok.status, 200);
      assert.equal(ok.body.email, newEmail);
      assert.equal(ok.body.email_verified_at, null);
      const queued = await queuedEmails(t.app.ctx.db, { to: newEmail });
      assert.equal(queued.length, 1, 'a verification email goes to the new address');
    });

    it('retires reset links sent to the old address when the email changes', async () => {
      const u = await registerAndSignIn(t.api);
      await t.api.post('/auth/password/forgot', { email: u.email });
      let body: string | null = null;
      for (let i = 0; i < 50 && !body; i++) {
        const [row] = await queuedEmails(t.app.ctx.db, { to: u.email, template: 'reset_password' });
        body = row?.text ?? null;
        if (!body) await new Promise((r) => setTimeout(r, 50));
      }
      const token = /token=([^\s&]+)/.exec(body ?? '')?.[1];
      assert.ok(token, 'the reset link was queued');
      const moved = await t.api.patch('/auth/me', { email: uniqueEmail('moved'), current_password: PASSWORD }, u.accessToken);
      assert.equal(moved.status, 200);
      const reset = await t.api.post('/auth/password/reset', { token: decodeURIComponent(token!), new_password: 'a-takeover-passphrase' });
      assert.deepEqual([reset.status, reset.body], [400, { detail: 'Reset token has already been used or has expired', code: 'reset_token_spent' }]);
    });

    it('validates the body', async () => {
      const u = await registerAndSignIn(t.api);
      assert.equal((await t.api.patch('/auth/me', { name: 5 }, u.accessToken)).status, 422);
      assert.equal((await t.api.patch('/auth/me', { email: 'nope' }, u.accessToken)).status, 422);
      assert.equal((await t.api.patch('/auth/me', { job_title: 'x'.repeat(5000) }, u.accessToken)).status, 422);
      const anonymous = await t.api.patch('/auth/me', { name: 5 });
      assert.equal(anonymous.status, 401, 'credentials are checked before the body');
    });
  });
}
