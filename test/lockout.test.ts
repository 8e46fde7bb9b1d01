import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestApp } from './helpers/app.js';
import { DATABASE_KINDS } from './helpers/database.js';
import { PASSWORD, registerUser, uniqueEmail } from './helpers/fixtures.js';
import { createTestHasher } from './helpers/hasher.js';
import { holdLock } from './helpers/locks.js';

for (const kind of DATABASE_KINDS) {
  describe(`per-account lockout (${kind})`, () => {
    let t: TestApp;
    const hasher = createTestHasher();
    before(async () => {
      // Enough connections for 25 guesses to wait on one row lock at once (postgres).
      t = await startTestApp(kind, { passwords: hasher, env: { DATABASE_POOL_SIZE: '30' } });
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
      assert.deepEqual([locked.status, locked.body], [401, { detail: 'Incorrect email or password', code: 'invalid_credentials' }]);
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

    it('a right password whose rehash fails (argon2 out of memory) gives its guess back', async () => {
      const { email, user } = await registerUser(t.api);
      const { verify, hash } = hasher;
      hasher.verify = async (stored, password) => ({ ...(await verify.call(hasher, stored, password)), needsRehash: true });
      hasher.hash = async () => {
        throw new Error('argon2: out of memory');
      };
      try {
        assert.equal((await login(email, PASSWORD)).status, 500);
      } finally {
        Object.assign(hasher, { verify, hash });
      }
      const row = await t.app.ctx.db.selectFrom('users').select('failed_login_count').where('id', '=', user.id).executeTakeFirstOrThrow();
      assert.equal(row.failed_login_count, 0);
    });

    it('lets no more than 10 of 25 parallel guesses be checked', async () => {
      const { email, user } = await registerUser(t.api);
      const results = await Promise.all(Array.from({ length: 25 }, () => login(email, 'wrong password')));
      assert.ok(results.every((r) => r.status === 401));
      assert.equal(await guesses(user.id, 'bad_password'), 10);
      assert.equal(await guesses(user.id, 'account_locked'), 15);
      assert.equal((await login(email, PASSWORD)).status, 401, 'locked even for the right password');
    });

    // The embedded database runs one statement at a time, so there the reservation cannot
    // interleave; on PostgreSQL the interleaving is forced rather than hoped for.
    it('lets no more than 10 of 25 guesses be checked when all 25 read the row before any counts', { skip: kind !== 'postgres' && 'needs a second connection' }, async () => {
      const { email, user } = await registerUser(t.api);
      const lock = await holdLock(t.database.url!, 'SELECT id FROM users WHERE id = $1 FOR UPDATE', [user.id]);
      let pending: Promise<Array<{ status: number }>> | undefined;
      try {
        pending = Promise.all(Array.from({ length: 25 }, () => login(email, 'wrong password')));
        // Each guess has read the user row (failed_login_count 0) and waits to count itself.
        await lock.waitForBlocked(25);
      } finally {
        await lock.release();
      }
      const results = await pending!;
      assert.deepEqual(new Set(results.map((r) => r.status)), new Set([401]));
      assert.equal(await guesses(user.id, 'bad_password'), 10, 'only guesses whose reservation counted are checked');
      assert.equal(await guesses(user.id, 'account_locked'), 15);
      assert.equal((await login(email, PASSWORD)).status, 401, 'locked even for the right password');
    });

    it('spends a password check on unknown emails and locked accounts, as on a wrong password', async () => {
      const { email } = await registerUser(t.api);
      const before = { ...hasher.calls };
      assert.equal((await login(email, 'wrong password')).status, 401);
      assert.deepEqual([hasher.calls.verify - before.verify, hasher.calls.verifyWithoutHash - before.verifyWithoutHash], [1, 0], 'a wrong password is checked');

      const unknown = { ...hasher.calls };
      const res = await login(uniqueEmail('nobody'), 'wrong password');
      assert.deepEqual([res.status, res.body], [401, { detail: 'Incorrect email or password', code: 'invalid_credentials' }]);
      assert.deepEqual([hasher.calls.verify - unknown.verify, hasher.calls.verifyWithoutHash - unknown.verifyWithoutHash], [1, 1], 'an unknown email costs a dummy check');

      for (let i = 0; i < 9; i++) await login(email, 'wrong password');
      const locked = { ...hasher.calls };
      assert.equal((await login(email, PASSWORD)).status, 401);
      assert.deepEqual([hasher.calls.verify - locked.verify, hasher.calls.verifyWithoutHash - locked.verifyWithoutHash], [1, 1], 'a locked account costs a dummy check');
      assert.equal(hasher.calls.hash, before.hash, 'no failure hashes a new password');
    });

    it('a password reset ends a lockout: the new password lets the user in at once', async () => {
      const { email, user } = await registerUser(t.api);
      for (let i = 0; i < 10; i++) await login(email, 'wrong password');
      assert.equal((await login(email, PASSWORD)).status, 401);
      const { replacePassword } = await import('../src/modules/passwords/passwords.service.js');
      const hash = await t.app.ctx.passwords.hash('a-brand-new-passphrase');
      await t.app.ctx.db.transaction().execute((trx) => replacePassword(trx, { userId: user.id, passwordHash: hash, now: t.clock.now() }));
      assert.equal((await login(email, 'a-brand-new-passphrase')).status, 200);
    });
  });
}
