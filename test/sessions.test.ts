import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../src/db/schema.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { DATABASE_KINDS } from './helpers/database.js';
import { PASSWORD, registerAndSignIn, registerUser, signIn, uniqueEmail } from './helpers/fixtures.js';

/**
 * What makes two refresh tokens the same child: the same key, jti, session and times. (An
 * ES256 signature is randomised, so the same child is not the same string; in HS256 mode it
 * is, byte for byte: test/signing-keys.test.ts.)
 */
const childOf = (token: string) => {
  const { jti, sid, iat, exp, sub } = decodeJwt(token);
  return { kid: decodeProtectedHeader(token).kid, jti, sid, sub, iat, exp };
};

/**
 * An injected fault: inserts into `table` for this user fail, from inside the database (a
 * trigger), so the app's code is untouched. Works on PGlite and PostgreSQL alike.
 */
async function failInsertsFor(db: Kysely<Database>, table: 'sessions' | 'audit_logs', userId: string, extraCondition = 'true'): Promise<() => Promise<void>> {
  assert.match(userId, /^[0-9a-f-]{36}$/);
  const name = `test_fault_${table}_${userId.replaceAll('-', '')}`;
  await sql.raw(`
    CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.user_id = '${userId}' AND ${extraCondition} THEN RAISE EXCEPTION 'injected fault'; END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER ${name} BEFORE INSERT ON ${table} FOR EACH ROW EXECUTE FUNCTION ${name}();
  `).execute(db);
  return async () => {
    await sql.raw(`DROP TRIGGER ${name} ON ${table}; DROP FUNCTION ${name}();`).execute(db);
  };
}

for (const kind of DATABASE_KINDS) {
  describe(`login and sessions (${kind})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(kind);
    });
    after(() => t.close());
    const db = () => t.app.ctx.db;

    it('a session keeps how and where it began; refresh moves last_used_at and keeps aal/amr in the access token', async () => {
      const { email, user } = await registerUser(t.api);
      const agent = 'Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0 Safari/537.36';
      const login = await t.api.request('POST', '/auth/login/json', { json: { email, password: PASSWORD }, headers: { 'user-agent': agent } });
      assert.equal(login.status, 200);
      const first = decodeJwt(login.body.access_token);
      assert.equal(first.aal, 'aal1');
      assert.deepEqual(first.amr, ['pwd']);
      const session = await db().selectFrom('sessions').selectAll().where('user_id', '=', user.id).executeTakeFirstOrThrow();
      assert.equal(session.user_agent, agent);
      assert.equal(session.ip, '127.0.0.1');
      assert.equal(session.last_ip, '127.0.0.1');
      assert.equal(session.aal, 'aal1');
      assert.deepEqual(session.amr, ['pwd']);
      assert.equal(session.last_used_at?.getTime(), session.created_at.getTime());

      t.clock.advanceSeconds(60);
      const refreshed = await t.api.post('/auth/refresh', { refresh_token: login.body.refresh_token });
      assert.equal(refreshed.status, 200);
      const second = decodeJwt(refreshed.body.access_token);
      assert.equal(second.aal, 'aal1');
      assert.deepEqual(second.amr, ['pwd']);
      const touched = await db().selectFrom('sessions').selectAll().where('id', '=', session.id).executeTakeFirstOrThrow();
      assert.ok(touched.last_used_at!.getTime() >= session.created_at.getTime() + 60_000, 'last_used_at moved on refresh');
      // The grace re-issue (same token presented again at once) answers with the session's claims too.
      const again = await t.api.post('/auth/refresh', { refresh_token: login.body.refresh_token });
      assert.equal(again.status, 200);
      assert.deepEqual(decodeJwt(again.body.access_token).amr, ['pwd']);
    });

    it('signs in with the form and with JSON, sets last_login, stores only the refresh hash', async () => {
      const { email, user } = await registerUser(t.api);
      const form = await t.api.request('POST', '/auth/login', { form: { username: email.toUpperCase(), password: PASSWORD } });
      assert.equal(form.status, 200, JSON.stringify(form.body));
      assert.equal(form.body.token_type, 'bearer');
      assert.equal(form.body.must_change_password, false);
      assert.equal(form.headers.get('cache-control'), 'no-store');
      const json = await t.api.post('/auth/login/json', { email, password: PASSWORD });
      assert.equal(json.status, 200);

      const access = decodeJwt(json.body.access_token);
      assert.equal(access.type, 'access');
      assert.equal(access.sub, user.id);
      assert.ok(access.jti && access.iss && access.aud && access.exp && access.iat);
      assert.equal(access.exp! - access.iat!, 15 * 60);
      assert.equal(decodeProtectedHeader(json.body.access_token).typ, 'at+jwt');
      const refresh = decodeJwt(json.body.refresh_token);
      assert.equal(refresh.type, 'refresh');
      assert.equal(refresh.exp! - refresh.iat!, 7 * 86_400);

      const rows = await db().selectFrom('refresh_tokens').selectAll().where('user_id', '=', user.id).execute();
      assert.equal(rows.length, 2);
      for (const row of rows) assert.notEqual(row.token_hash, refresh.jti);
      const me = await db().selectFrom('users').select('last_login').where('id', '=', user.id).executeTakeFirstOrThrow();
      assert.ok(me.last_login);
      const events = await db().selectFrom('audit_logs').select('action').where('user_id', '=', user.id).where('action', '=', 'auth.login').execute();
      assert.equal(events.length, 2);
    });

    it('accepts the password form as multipart form data too', async () => {
      const { email } = await registerUser(t.api);
      const form = new FormData();
      form.append('username', email);
      form.append('password', PASSWORD);
      const ok = await fetch(`${t.api.base}/auth/login`, { method: 'POST', body: form });
      assert.equal(ok.status, 200);
      const withFile = new FormData();
      withFile.append('username', email);
      withFile.append('password', new Blob(['x']), 'password.txt');
      const refused = await fetch(`${t.api.base}/auth/login`, { method: 'POST', body: withFile });
      assert.ok(refused.status >= 400 && refused.status < 500, String(refused.status));
    });

    it('answers 401 with a Bearer challenge for a wrong password or an unknown user, and audits it', async () => {
      const { email, user } = await registerUser(t.api);
      const wrong = await t.api.post('/auth/login/json', { email, password: 'wrong password' });
      assert.deepEqual([wrong.status, wrong.body], [401, { detail: 'Incorrect email or password', code: 'invalid_credentials' }]);
      assert.equal(wrong.headers.get('www-authenticate'), 'Bearer');
      const unknown = await t.api.request('POST', '/auth/login', { form: { username: uniqueEmail(), password: PASSWORD } });
      assert.deepEqual([unknown.status, unknown.body], [401, { detail: 'Incorrect email or password', code: 'invalid_credentials' }]);
      const failed = await db().selectFrom('audit_logs').selectAll().where('user_id', '=', user.id).where('action', '=', 'auth.login_failed').execute();
      assert.equal(failed.length, 1);
      assert.equal(JSON.stringify(failed[0]!.details).includes('wrong password'), false);
    });

    it('refuses a deactivated user with the right password: 403 Inactive user', async () => {
      const { email, user } = await registerUser(t.api);
      await db().updateTable('users').set({ is_active: false }).where('id', '=', user.id).execute();
      const res = await t.api.post('/auth/login/json', { email, password: PASSWORD });
      assert.deepEqual([res.status, res.body], [403, { detail: 'Inactive user', code: 'inactive_user' }]);
    });

    it('tells a user without a password which OAuth providers to use', async () => {
      const { email, user } = await registerUser(t.api);
      await db().updateTable('users').set({ password_hash: null }).where('id', '=', user.id).execute();
      await db().insertInto('oauth_identities').values({ user_id: user.id, provider: 'google', subject: `g-${user.id}` }).execute();
      const res = await t.api.post('/auth/login/json', { email, password: PASSWORD });
      assert.deepEqual([res.status, res.body], [400, { detail: { error: 'use_oauth_provider', providers: ['google'] }, code: 'use_oauth_provider' }]);
    });

    it('writes the sign-in whole or not at all: a failed session insert leaves no auth.login row and no last_login', async () => {
      const { email, user } = await registerUser(t.api);
      const before = await db().selectFrom('users').select(['last_login', 'updated_at']).where('id', '=', user.id).executeTakeFirstOrThrow();
      const restore = await failInsertsFor(db(), 'sessions', user.id);
      try {
        const res = await t.api.post('/auth/login/json', { email, password: PASSWORD });
        assert.equal(res.status, 500, JSON.stringify(res.body));
        assert.equal(res.body.access_token, undefined);
      } finally {
        await restore();
      }
      const events = await db().selectFrom('audit_logs').select('action').where('user_id', '=', user.id).where('action', '=', 'auth.login').execute();
      assert.deepEqual(events, [], 'the audit row went with the failed session');
      const after = await db().selectFrom('users').select(['last_login', 'updated_at']).where('id', '=', user.id).executeTakeFirstOrThrow();
      assert.deepEqual(after, before, 'last_login unchanged');
      assert.equal(before.last_login, null);
      assert.equal((await t.api.post('/auth/login/json', { email, password: PASSWORD })).status, 200, 'the next sign-in works');
    });

    it('writes the sign-in whole or not at all: a failed auth.login insert leaves no session', async () => {
      const { email, user } = await registerUser(t.api);
      const restore = await failInsertsFor(db(), 'audit_logs', user.id, "NEW.action = 'auth.login'");
      try {
        const res = await t.api.post('/auth/login/json', { email, password: PASSWORD });
        assert.equal(res.status, 500, JSON.stringify(res.body));
        assert.equal(res.body.access_token, undefined);
      } finally {
        await restore();
      }
      assert.deepEqual(await db().selectFrom('sessions').select('id').where('user_id', '=', user.id).execute(), []);
      assert.deepEqual(await db().selectFrom('refresh_tokens').select('id').where('user_id', '=', user.id).execute(), []);
      const row = await db().selectFrom('users').select('last_login').where('id', '=', user.id).executeTakeFirstOrThrow();
      assert.equal(row.last_login, null);
    });

    it('rotates a refresh token and refuses a refresh token where an access token belongs', async () => {
      const u = await registerAndSignIn(t.api);
      const res = await t.api.post('/auth/refresh', { refresh_token: u.refreshToken });
      assert.equal(res.status, 200);
      assert.notEqual(res.body.refresh_token, u.refreshToken);
      assert.equal(decodeJwt(res.body.refresh_token).sid, decodeJwt(u.refreshToken).sid);
      assert.equal((await t.api.get('/auth/me', res.body.access_token)).status, 200);
      assert.equal((await t.api.get('/auth/me', u.refreshToken)).status, 401);
      const asRefresh = await t.api.post('/auth/refresh', { refresh_token: u.accessToken });
      assert.deepEqual([asRefresh.status, asRefresh.body], [401, { detail: 'Invalid refresh token', code: 'invalid_refresh_token' }]);
      const garbage = await t.api.post('/auth/refresh', { refresh_token: 'not.a.jwt' });
      assert.deepEqual([garbage.status, garbage.body], [401, { detail: 'Invalid refresh token', code: 'invalid_refresh_token' }]);
    });

    it('within the reuse interval the parent gets the same child back; later reuse revokes the session', async () => {
      const u = await registerAndSignIn(t.api);
      const first = await t.api.post('/auth/refresh', { refresh_token: u.refreshToken });
      const again = await t.api.post('/auth/refresh', { refresh_token: u.refreshToken });
      assert.equal(again.status, 200);
      assert.deepEqual(childOf(again.body.refresh_token), childOf(first.body.refresh_token), 'same child: same jti and expiry');
      t.clock.advanceSeconds(11);
      const late = await t.api.post('/auth/refresh', { refresh_token: u.refreshToken });
      assert.deepEqual([late.status, late.body], [401, { detail: 'Refresh token has been revoked', code: 'refresh_token_revoked' }]);
      const child = await t.api.post('/auth/refresh', { refresh_token: first.body.refresh_token });
      assert.equal(child.status, 401, 'the whole family is revoked');
      assert.equal((await t.api.get('/auth/me', first.body.access_token)).status, 401, 'its access tokens die too');
      const other = await signIn(t.api, u.email);
      assert.equal((await t.api.get('/auth/me', other.accessToken)).status, 200, 'other sessions live on');
    });

    it('pins the reuse interval\'s edge: 1 s before it the parent gets its child, at it and after it the session is revoked', async () => {
      const interval = t.app.ctx.config.refreshReuseIntervalSeconds;
      assert.equal(interval, 10);
      const sessionOf = async (token: string) =>
        db().selectFrom('sessions').select('revoked_at').where('id', '=', String(decodeJwt(token).sid)).executeTakeFirstOrThrow();
      // `now - rotated_at < interval`: the grace is the interval's open end; at exactly the
      // interval the parent is an ordinary reuse.
      for (const [offset, within] of [[interval - 1, true], [interval, false], [interval + 1, false]] as const) {
        const u = await registerAndSignIn(t.api);
        const child = await t.api.post('/auth/refresh', { refresh_token: u.refreshToken });
        assert.equal(child.status, 200);
        t.clock.advanceSeconds(offset);
        const again = await t.api.post('/auth/refresh', { refresh_token: u.refreshToken });
        if (within) {
          assert.equal(again.status, 200, `at ${offset} s`);
          assert.deepEqual(childOf(again.body.refresh_token), childOf(child.body.refresh_token), `at ${offset} s: the same child`);
          assert.equal((await sessionOf(u.refreshToken)).revoked_at, null);
        } else {
          assert.deepEqual([again.status, again.body], [401, { detail: 'Refresh token has been revoked', code: 'refresh_token_revoked' }], `at ${offset} s`);
          assert.ok((await sessionOf(u.refreshToken)).revoked_at, `at ${offset} s: the session is revoked`);
          assert.equal((await t.api.post('/auth/refresh', { refresh_token: child.body.refresh_token })).status, 401, `at ${offset} s: the child dies too`);
          const reuse = await db().selectFrom('audit_logs').select('id').where('user_id', '=', u.id).where('action', '=', 'auth.refresh_token_reuse').execute();
          assert.equal(reuse.length, 1, `at ${offset} s: reported as reuse`);
        }
      }
    });

    it('gives a deactivated user no grace: the just-rotated parent gets no new pair', async () => {
      const u = await registerAndSignIn(t.api);
      const child = await t.api.post('/auth/refresh', { refresh_token: u.refreshToken });
      assert.equal(child.status, 200);
      await db().updateTable('users').set({ is_active: false }).where('id', '=', u.id).execute();
      const parent = await t.api.post('/auth/refresh', { refresh_token: u.refreshToken });
      // Within the interval the parent stands for its live child, whose answer is 403.
      assert.deepEqual([parent.status, parent.body], [403, { detail: 'Inactive user', code: 'inactive_user' }]);
      const live = await t.api.post('/auth/refresh', { refresh_token: child.body.refresh_token });
      assert.deepEqual([live.status, live.body], [403, { detail: 'Inactive user', code: 'inactive_user' }]);
      // Not treated as a leak: reactivated, the session goes on.
      await db().updateTable('users').set({ is_active: true }).where('id', '=', u.id).execute();
      assert.equal((await t.api.post('/auth/refresh', { refresh_token: child.body.refresh_token })).status, 200);
    });

    it('reuse of an older ancestor revokes the session at once', async () => {
      const u = await registerAndSignIn(t.api);
      const r1 = await t.api.post('/auth/refresh', { refresh_token: u.refreshToken });
      const r2 = await t.api.post('/auth/refresh', { refresh_token: r1.body.refresh_token });
      assert.equal(r2.status, 200);
      const stale = await t.api.post('/auth/refresh', { refresh_token: u.refreshToken });
      assert.deepEqual([stale.status, stale.body], [401, { detail: 'Refresh token has been revoked', code: 'refresh_token_revoked' }]);
      assert.equal((await t.api.post('/auth/refresh', { refresh_token: r2.body.refresh_token })).status, 401);
    });

    it('ten concurrent refreshes of one token leave exactly one live child', async () => {
      const u = await registerAndSignIn(t.api);
      const results = await Promise.all(Array.from({ length: 10 }, () => t.api.post('/auth/refresh', { refresh_token: u.refreshToken })));
      assert.ok(results.every((r) => r.status === 200), JSON.stringify(results.map((r) => r.status)));
      assert.equal(new Set(results.map((r) => JSON.stringify(childOf(r.body.refresh_token)))).size, 1);
      const live = await db().selectFrom('refresh_tokens').select('id').where('user_id', '=', u.id).where('revoked_at', 'is', null).execute();
      assert.equal(live.length, 1);
    });

    it('answers a refresh for a deactivated user: 403 while the token is live, 401 once revoked', async () => {
      const u = await registerAndSignIn(t.api);
      await db().updateTable('users').set({ is_active: false }).where('id', '=', u.id).execute();
      const live = await t.api.post('/auth/refresh', { refresh_token: u.refreshToken });
      assert.deepEqual([live.status, live.body], [403, { detail: 'Inactive user', code: 'inactive_user' }]);
      const { revokeAllSessions } = await import('../src/modules/sessions/sessions.repo.js');
      await revokeAllSessions(db(), u.id, t.clock.now());
      const revoked = await t.api.post('/auth/refresh', { refresh_token: u.refreshToken });
      assert.deepEqual([revoked.status, revoked.body], [401, { detail: 'Refresh token has been revoked', code: 'refresh_token_revoked' }]);
      const reuse = await db().selectFrom('audit_logs').select('id').where('user_id', '=', u.id).where('action', '=', 'auth.refresh_token_reuse').execute();
      assert.equal(reuse.length, 0, 'a token revoked on purpose is not reported as stolen');
    });

    it('refuses an expired refresh token', async () => {
      const u = await registerAndSignIn(t.api);
      t.clock.advanceDays(7);
      t.clock.advanceSeconds(1);
      const res = await t.api.post('/auth/refresh', { refresh_token: u.refreshToken });
      assert.deepEqual([res.status, res.body], [401, { detail: 'Invalid refresh token', code: 'invalid_refresh_token' }]);
      assert.equal((await t.api.get('/auth/me', u.accessToken)).status, 401, 'the access token expired long ago');
    });

    it('logout revokes the session: its refresh and access tokens stop working at once', async () => {
      const u = await registerAndSignIn(t.api);
      const res = await t.api.post('/auth/logout', { refresh_token: u.refreshToken });
      assert.deepEqual([res.status, res.body], [200, { message: 'Successfully logged out' }]);
      assert.equal((await t.api.get('/auth/me', u.accessToken)).status, 401);
      const refresh = await t.api.post('/auth/refresh', { refresh_token: u.refreshToken });
      assert.deepEqual([refresh.status, refresh.body], [401, { detail: 'Refresh token has been revoked', code: 'refresh_token_revoked' }]);
      const bad = await t.api.post('/auth/logout', { refresh_token: 'garbage' });
      assert.deepEqual([bad.status, bad.body], [401, { detail: 'Invalid refresh token', code: 'invalid_refresh_token' }]);
      const events = await db().selectFrom('audit_logs').select('action').where('user_id', '=', u.id).where('action', '=', 'auth.logout').execute();
      assert.equal(events.length, 1);
    });
  });

  describe(`password upgrades on login (${kind})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(kind, { passwords: 'argon2' });
    });
    after(() => t.close());
    const db = () => t.app.ctx.db;

    it('verifies imported bcrypt hashes and upgrades them to argon2id', async () => {
      const { email, user } = await registerUser(t.api);
      const bcrypt = await import('bcryptjs');
      await db().updateTable('users').set({ password_hash: await bcrypt.default.hash('legacy-password', 4) }).where('id', '=', user.id).execute();
      const res = await t.api.post('/auth/login/json', { email, password: 'legacy-password' });
      assert.equal(res.status, 200);
      const row = await db().selectFrom('users').select('password_hash').where('id', '=', user.id).executeTakeFirstOrThrow();
      assert.match(row.password_hash!, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$|^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
      assert.equal((await t.api.post('/auth/login/json', { email, password: 'legacy-password' })).status, 200);
    });
  });

  describe(`strict rotation with REFRESH_REUSE_INTERVAL_SECONDS=0 (${kind})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(kind, { env: { REFRESH_REUSE_INTERVAL_SECONDS: '0' } });
    });
    after(() => t.close());

    it('of ten concurrent refreshes of one token exactly one succeeds', async () => {
      const u = await registerAndSignIn(t.api);
      const results = await Promise.all(Array.from({ length: 10 }, () => t.api.post('/auth/refresh', { refresh_token: u.refreshToken })));
      const ok = results.filter((r) => r.status === 200);
      assert.equal(ok.length, 1, JSON.stringify(results.map((r) => r.status)));
      for (const r of results.filter((r) => r.status !== 200)) assert.deepEqual([r.status, r.body], [401, { detail: 'Refresh token has been revoked', code: 'refresh_token_revoked' }]);
      const live = await t.app.ctx.db.selectFrom('refresh_tokens').select('id').where('user_id', '=', u.id).where('revoked_at', 'is', null).execute();
      assert.ok(live.length <= 1);
    });
  });
}
