import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestApp } from './helpers/app.js';
import { DATABASE_KINDS } from './helpers/database.js';
import { PASSWORD, registerUser } from './helpers/fixtures.js';

for (const kind of DATABASE_KINDS) {
  describe(`per-account lockout (${kind})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(kind);
    });
    after(() => t.close());

    const login = (email: string, password: string) => t.api.post('/auth/login/json', { email, password });
    const guesses = async (userId: string, reason: string) =>
      (await t.app.ctx.db.selectFrom('audit_logs').select('details').where('user_id', '=', userId).where('action', '=', 'auth.login_failed').execute())
        .filter((row) => row.details.reason === reason).length;

    it('locks after 10 failures with the same 401, for 1 minute then doubling; success clears it', async () => {
      const { email, user } = await registerUser(t.api);
      for (let i = 0; i < 10; i++) assert.equal((await login(email, 'wrong password')).status, 401);
      const locked = await login(email, PASSWORD);
      assert.deepEqual([locked.status, locked.body], [401, { detail: 'Incorrect email or password' }]);
      const lockEvents = await t.app.ctx.db.selectFrom('audit_logs').select('id').where('user_id', '=', user.id).where('action', '=', 'auth.account_locked').execute();
      assert.equal(lockEvents.length, 1);

      t.clock.advanceSeconds(61);
      for (let i = 0; i < 10; i++) assert.equal((await login(email, 'wrong password')).status, 401);
      t.clock.advanceSeconds(61);
      assert.equal((await login(email, PASSWORD)).status, 401, 'the second lock lasts 2 minutes');
      t.clock.advanceSeconds(60);
      assert.equal((await login(email, PASSWORD)).status, 200);
      const row = await t.app.ctx.db.selectFrom('users').select(['failed_login_count', 'lockout_count', 'locked_until']).where('id', '=', user.id).executeTakeFirstOrThrow();
      assert.deepEqual([row.failed_login_count, row.lockout_count, row.locked_until], [0, 0, null]);
    });

    it('lets no more than 10 of 25 parallel guesses be checked', async () => {
      const { email, user } = await registerUser(t.api);
      const results = await Promise.all(Array.from({ length: 25 }, () => login(email, 'wrong password')));
      assert.ok(results.every((r) => r.status === 401));
      assert.equal(await guesses(user.id, 'bad_password'), 10);
      assert.equal(await guesses(user.id, 'account_locked'), 15);
      assert.equal((await login(email, PASSWORD)).status, 401, 'locked even for the right password');
    });
  });
}

describe('a password reset ends a lockout', () => {
  it('lets the user in with the new password at once', async () => {
    const t = await startTestApp('pglite');
    try {
      const { email, user } = await registerUser(t.api);
      for (let i = 0; i < 10; i++) await t.api.post('/auth/login/json', { email, password: 'wrong password' });
      assert.equal((await t.api.post('/auth/login/json', { email, password: PASSWORD })).status, 401);
      const { replacePassword } = await import('../src/modules/passwords/passwords.service.js');
      const hash = await t.app.ctx.passwords.hash('a-brand-new-passphrase');
      await t.app.ctx.db.transaction().execute((trx) => replacePassword(trx, user.id, hash, t.clock.now()));
      assert.equal((await t.api.post('/auth/login/json', { email, password: 'a-brand-new-passphrase' })).status, 200);
    } finally {
      await t.close();
    }
  });
});
