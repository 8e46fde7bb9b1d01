import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestApp } from './helpers/app.js';
import { DATABASE_KINDS } from './helpers/database.js';
import { PASSWORD, registerUser, uniqueEmail } from './helpers/fixtures.js';
import { holdLock } from './helpers/locks.js';
import { markInviteCodeUsed } from '../src/modules/invites/invite-codes.repo.js';

for (const kind of DATABASE_KINDS) {
  describe(`registration (${kind})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(kind);
    });
    after(() => t.close());

    const db = () => t.app.ctx.db;
    const insertInviteCode = async (values: { code: string; assigned_plan?: string | null; trial_duration_days?: number | null; expires_at?: Date | null }) =>
      db().insertInto('invite_codes').values({ assigned_plan: null, trial_duration_days: null, expires_at: null, ...values }).returningAll().executeTakeFirstOrThrow();

    it('creates the user, a personal account they own and a pro trial', async () => {
      const email = uniqueEmail();
      const res = await t.api.post('/auth/register', { email, password: PASSWORD, name: 'Ada' });
      assert.equal(res.status, 201);
      assert.equal(res.body.email, email);
      assert.equal(res.body.role, 'engineer');
      assert.equal(res.body.account_role, 'owner');
      assert.equal(res.body.has_password, true);
      assert.equal(res.body.email_verified_at, null);
      assert.equal('password_hash' in res.body, false);
      const account = await db().selectFrom('accounts').selectAll().where('id', '=', res.body.account_id).executeTakeFirstOrThrow();
      assert.equal(account.name, "Ada's Account");
      assert.match(account.display_code, /^[A-Z0-9]{8}$/);
      assert.equal(account.owner_id, res.body.id);
      const sub = await db().selectFrom('subscriptions').selectAll().where('account_id', '=', account.id).executeTakeFirstOrThrow();
      assert.equal(sub.plan, 'pro');
      assert.equal(sub.status, 'trialing');
      const days = (sub.current_period_end!.getTime() - sub.current_period_start!.getTime()) / 86_400_000;
      assert.equal(days, 14);
      const audit = await db().selectFrom('audit_logs').selectAll().where('user_id', '=', res.body.id).where('action', '=', 'auth.register').execute();
      assert.equal(audit.length, 1);
      assert.equal(audit[0]!.ip, '127.0.0.1');
    });

    it('stores emails trimmed and lower-cased and refuses a case variant', async () => {
      const email = uniqueEmail('MiXeD').toUpperCase();
      const res = await t.api.post('/auth/register', { email: `  ${email} `, password: PASSWORD, name: 'Case' });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      assert.equal(res.body.email, email.toLowerCase());
      const again = await t.api.post('/auth/register', { email: email.toLowerCase(), password: PASSWORD, name: 'Case' });
      assert.equal(again.status, 400);
      assert.deepEqual(again.body, { detail: 'Email already registered', code: 'email_already_registered' });
    });

    it('applies an invite code plan (active, or trialing for its trial days) and spends the code', async () => {
      await insertInviteCode({ code: 'PILOT1', assigned_plan: 'enterprise' });
      await insertInviteCode({ code: 'TRIAL30', assigned_plan: 'team', trial_duration_days: 30 });
      const active = await registerUser(t.api, { invite_code: 'pilot1' });
      const trial = await registerUser(t.api, { invite_code: 'TRIAL30' });
      const subOf = (accountId: string) => db().selectFrom('subscriptions').selectAll().where('account_id', '=', accountId).executeTakeFirstOrThrow();
      const a = await subOf(active.user.account_id);
      assert.deepEqual([a.plan, a.status, a.current_period_end], ['enterprise', 'active', null]);
      const b = await subOf(trial.user.account_id);
      assert.deepEqual([b.plan, b.status], ['team', 'trialing']);
      assert.equal((b.current_period_end!.getTime() - b.current_period_start!.getTime()) / 86_400_000, 30);
      const code = await db().selectFrom('invite_codes').selectAll().where('code', '=', 'PILOT1').executeTakeFirstOrThrow();
      assert.equal(code.used_by_id, active.user.id);
      assert.ok(code.used_at);
      const reuse = await t.api.post('/auth/register', { email: uniqueEmail(), password: PASSWORD, name: 'X', invite_code: 'PILOT1' });
      assert.deepEqual([reuse.status, reuse.body], [400, { detail: 'Invite code has already been used', code: 'invite_code_used' }]);
    });

    it('refuses unknown and expired invite codes without writing anything', async () => {
      await insertInviteCode({ code: 'OLDCODE', expires_at: new Date(t.clock.now().getTime() - 1000) });
      const email = uniqueEmail();
      const unknown = await t.api.post('/auth/register', { email, password: PASSWORD, name: 'X', invite_code: 'NOPE' });
      assert.deepEqual([unknown.status, unknown.body], [400, { detail: 'Invalid invite code', code: 'invalid_invite_code' }]);
      const expired = await t.api.post('/auth/register', { email, password: PASSWORD, name: 'X', invite_code: 'oldcode' });
      assert.deepEqual([expired.status, expired.body], [400, { detail: 'Invite code has expired', code: 'invite_code_expired' }]);
      const users = await db().selectFrom('users').select('id').where('email', '=', email).execute();
      assert.equal(users.length, 0);
    });

    it('joins an account through an account invite with its role', async () => {
      const owner = await registerUser(t.api);
      const email = uniqueEmail('invitee');
      await db().insertInto('account_invites').values({
        account_id: owner.user.account_id, code: 'acct-invite-1', email, role: 'admin',
        invited_by_id: owner.user.id, expires_at: new Date(t.clock.now().getTime() + 86_400_000),
      }).execute();
      const mismatch = await t.api.post('/auth/register', { email: uniqueEmail(), password: PASSWORD, name: 'X', account_invite_code: 'acct-invite-1' });
      assert.deepEqual([mismatch.status, mismatch.body], [400, { detail: { error: 'invite_email_mismatch' }, code: 'invite_email_mismatch' }]);
      const res = await t.api.post('/auth/register', { email: email.toUpperCase(), password: PASSWORD, name: 'Invitee', account_invite_code: 'acct-invite-1' });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      assert.equal(res.body.account_id, owner.user.account_id);
      assert.equal(res.body.account_role, 'admin');
      const invite = await db().selectFrom('account_invites').selectAll().where('code', '=', 'acct-invite-1').executeTakeFirstOrThrow();
      assert.equal(invite.accepted_by_id, res.body.id);
      const again = await t.api.post('/auth/register', { email: uniqueEmail(), password: PASSWORD, name: 'X', account_invite_code: 'acct-invite-1' });
      assert.deepEqual([again.status, again.body], [400, { detail: 'Account invite code has already been used', code: 'account_invite_code_used' }]);
      const unknown = await t.api.post('/auth/register', { email: uniqueEmail(), password: PASSWORD, name: 'X', account_invite_code: 'nope' });
      assert.deepEqual([unknown.status, unknown.body], [400, { detail: 'Invalid account invite code', code: 'invalid_account_invite_code' }]);
    });

    it('refuses an expired account invite', async () => {
      const owner = await registerUser(t.api);
      const email = uniqueEmail();
      await db().insertInto('account_invites').values({
        account_id: owner.user.account_id, code: 'acct-expired', email, role: 'member',
        expires_at: new Date(t.clock.now().getTime() + 1000),
      }).execute();
      t.clock.advanceSeconds(2);
      const res = await t.api.post('/auth/register', { email, password: PASSWORD, name: 'X', account_invite_code: 'acct-expired' });
      assert.deepEqual([res.status, res.body], [400, { detail: 'Account invite code has expired', code: 'account_invite_code_expired' }]);
    });

    it('of eight concurrent registrations with one single-use code exactly one succeeds', async () => {
      await insertInviteCode({ code: 'RACE8', assigned_plan: 'pro' });
      const results = await Promise.all(
        Array.from({ length: 8 }, () => t.api.post('/auth/register', { email: uniqueEmail('race'), password: PASSWORD, name: 'Racer', invite_code: 'RACE8' })),
      );
      const statuses = results.map((r) => r.status).sort();
      assert.deepEqual(statuses, [201, 400, 400, 400, 400, 400, 400, 400]);
      for (const r of results.filter((r) => r.status === 400)) assert.deepEqual(r.body, { detail: 'Invite code has already been used', code: 'invite_code_used' });
      const spentBy = await db().selectFrom('users').select('users.id').where('invite_code_id', 'is not', null)
        .innerJoin('invite_codes', 'invite_codes.id', 'users.invite_code_id').where('invite_codes.code', '=', 'RACE8').execute();
      assert.equal(spentBy.length, 1);
    });

    // The embedded database runs one transaction at a time, so there registrations cannot
    // interleave; on PostgreSQL the race is forced: all eight are started while a second
    // connection holds the code's row, and let go together.
    const onPostgres = { skip: kind !== 'postgres' && 'needs a second connection' };

    it('of eight registrations held at the code and let go at once, exactly one spends it', onPostgres, async () => {
      await insertInviteCode({ code: 'HELD8', assigned_plan: 'pro' });
      const lock = await holdLock(t.database.url!, 'SELECT id FROM invite_codes WHERE code = $1 FOR UPDATE', ['HELD8']);
      let pending: Promise<Array<{ status: number; body: unknown }>> | undefined;
      try {
        pending = Promise.all(
          Array.from({ length: 8 }, () => t.api.post('/auth/register', { email: uniqueEmail('held'), password: PASSWORD, name: 'Held Racer', invite_code: 'HELD8' })),
        );
        await lock.waitForBlocked(8);
      } finally {
        await lock.release();
      }
      const results = await pending!;
      assert.deepEqual(results.map((r) => r.status).sort(), [201, 400, 400, 400, 400, 400, 400, 400]);
      for (const r of results.filter((r) => r.status === 400)) assert.deepEqual(r.body, { detail: 'Invite code has already been used', code: 'invite_code_used' });
      const users = await db().selectFrom('users').select(['id', 'invite_code_id']).where('name', '=', 'Held Racer').execute();
      assert.equal(users.length, 1, 'the losers rolled back');
      const code = await db().selectFrom('invite_codes').selectAll().where('code', '=', 'HELD8').executeTakeFirstOrThrow();
      assert.deepEqual([code.used_by_id, users[0]!.invite_code_id], [users[0]!.id, code.id]);
      const accounts = await db().selectFrom('accounts').select('id').where('name', '=', "Held Racer's Account").execute();
      assert.equal(accounts.length, 1, 'no half-written account is left behind');
    });

    it('takes the code\'s row lock before it writes anything', onPostgres, async () => {
      await insertInviteCode({ code: 'LOCKFIRST' });
      const lock = await holdLock(t.database.url!, 'SELECT id FROM invite_codes WHERE code = $1 FOR UPDATE', ['LOCKFIRST']);
      let pending: Promise<{ status: number }> | undefined;
      try {
        pending = t.api.post('/auth/register', { email: uniqueEmail('first'), password: PASSWORD, name: 'X', invite_code: 'LOCKFIRST' });
        await lock.waitForBlocked(1);
        const [waiting] = await lock.blocked();
        assert.deepEqual(waiting!.relationsLocked, ['invite_codes'], 'it waits on the code, before any user or account exists');
      } finally {
        await lock.release();
      }
      assert.equal((await pending!).status, 201);
    });

    it('the spend itself refuses a code that is already used', async () => {
      const { user } = await registerUser(t.api);
      const code = await insertInviteCode({ code: 'SPENTONCE' });
      await db().transaction().execute((trx) => markInviteCodeUsed(trx, { id: code.id, userId: user.id, now: t.clock.now() }));
      await assert.rejects(
        db().transaction().execute((trx) => markInviteCodeUsed(trx, { id: code.id, userId: user.id, now: t.clock.now() })),
        (err: { statusCode?: number; detail?: unknown }) => err.statusCode === 400 && err.detail === 'Invite code has already been used',
      );
    });

    it('of concurrent registrations of one address exactly one succeeds', async () => {
      const email = uniqueEmail('same');
      const results = await Promise.all(Array.from({ length: 5 }, () => t.api.post('/auth/register', { email, password: PASSWORD, name: 'Same' })));
      assert.deepEqual(results.map((r) => r.status).sort(), [201, 400, 400, 400, 400]);
      const accounts = await db().selectFrom('accounts').select('id').where('name', '=', "Same's Account").execute();
      assert.equal(accounts.length, 1, 'losers leave no half-written account behind');
    });

    it('refuses the most common passwords with a clear 422, whatever their case or width', async () => {
      for (const password of ['password', 'PASSWORD1', 'qwertyuiop', 'ｐａｓｓｗｏｒｄ']) {
        const res = await t.api.post('/auth/register', { email: uniqueEmail(), password, name: 'X' });
        assert.equal(res.status, 422, password);
        assert.deepEqual(res.body.detail[0].loc, ['body', 'password']);
        assert.equal(res.body.detail[0].type, 'password_too_common');
      }
    });

    it('compares NFKC-normalised passwords', async () => {
      const email = uniqueEmail();
      await t.api.post('/auth/register', { email, password: 'Ｃａｆｅ-ｓｅｃｒｅｔ-９', name: 'X' });
      assert.equal((await t.api.post('/auth/login/json', { email, password: 'Cafe-secret-9' })).status, 200);
    });

    it('validates the body in the FastAPI shape', async () => {
      const missing = await t.api.post('/auth/register', { email: uniqueEmail(), name: 'X' });
      assert.equal(missing.status, 422);
      assert.deepEqual(missing.body.detail[0].loc, ['body', 'password']);
      assert.equal(missing.body.detail[0].type, 'missing');
      const short = await t.api.post('/auth/register', { email: uniqueEmail(), password: 'short', name: 'X' });
      assert.equal(short.status, 422);
      assert.deepEqual(short.body.detail[0].loc, ['body', 'password']);
      const long = await t.api.post('/auth/register', { email: uniqueEmail(), password: 'x'.repeat(129), name: 'X' });
      assert.equal(long.status, 422);
      const badEmail = await t.api.post('/auth/register', { email: 'not-an-email', password: PASSWORD, name: 'X' });
      assert.equal(badEmail.status, 422);
      assert.deepEqual(badEmail.body.detail[0].loc, ['body', 'email']);
      const longEmail = await t.api.post('/auth/register', { email: `${'a'.repeat(250)}@x.io`, password: PASSWORD, name: 'X' });
      assert.equal(longEmail.status, 422);
      const wrongType = await t.api.post('/auth/register', { email: 42, password: PASSWORD, name: 'X' });
      assert.equal(wrongType.status, 422);
      const nul = await t.api.post('/auth/register', { email: uniqueEmail(), password: PASSWORD, name: 'X\u0000Y' });
      assert.equal(nul.status, 422);
      assert.deepEqual(nul.body.detail[0].loc, ['body', 'name']);
      const array = await t.api.post('/auth/register', [1, 2]);
      assert.equal(array.status, 422);
    });
  });

  describe(`registration gating (${kind})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(kind, { env: { REQUIRE_INVITE_CODE: 'true', SELF_SERVE_ENABLED: 'false' } });
    });
    after(() => t.close());

    it('requires an invite code when self-serve is off', async () => {
      const res = await t.api.post('/auth/register', { email: uniqueEmail(), password: PASSWORD, name: 'X' });
      assert.deepEqual([res.status, res.body], [400, { detail: 'Invite code is required', code: 'invite_code_required' }]);
      await t.app.ctx.db.insertInto('invite_codes').values({ code: 'LETMEIN' }).execute();
      const ok = await t.api.post('/auth/register', { email: uniqueEmail(), password: PASSWORD, name: 'X', invite_code: 'letmein' });
      assert.equal(ok.status, 201);
    });

    it('lets an account invite bypass the platform gate', async () => {
      const owner = await t.app.ctx.db.insertInto('invite_codes').values({ code: 'OWNER' }).returning('id').executeTakeFirstOrThrow();
      assert.ok(owner);
      const founder = await t.api.post('/auth/register', { email: uniqueEmail(), password: PASSWORD, name: 'F', invite_code: 'OWNER' });
      const email = uniqueEmail();
      await t.app.ctx.db.insertInto('account_invites').values({
        account_id: founder.body.account_id, code: 'gate-bypass', email, role: 'member', expires_at: new Date(t.clock.now().getTime() + 60_000),
      }).execute();
      const res = await t.api.post('/auth/register', { email, password: PASSWORD, name: 'M', account_invite_code: 'gate-bypass' });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      assert.equal(res.body.account_role, 'member');
    });
  });

  describe(`self-serve with invite codes (${kind})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(kind, { env: { REQUIRE_INVITE_CODE: 'true', SELF_SERVE_ENABLED: 'true' } });
    });
    after(() => t.close());

    it('lets anyone register while self-serve is on', async () => {
      const res = await t.api.post('/auth/register', { email: uniqueEmail(), password: PASSWORD, name: 'X' });
      assert.equal(res.status, 201);
    });
  });
}

