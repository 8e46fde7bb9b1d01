// The sessions a user can see and end: GET/DELETE /auth/sessions, revoke-others, and the
// admin pair.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { sql } from 'kysely';
import { ensureAdmin } from '../src/modules/admin/create-admin.js';
import { describeDevice } from '../src/modules/sessions/device.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { DATABASE_KINDS } from './helpers/database.js';
import { PASSWORD, registerUser, signIn, uniqueEmail } from './helpers/fixtures.js';

const LAPTOP = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36';
const PHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1';

describe('describeDevice', () => {
  it('answers from its bounded cache as a fresh parse would, and keeps working past its bound', () => {
    const laptop = describeDevice(LAPTOP);
    assert.deepEqual(laptop, { browser: 'Chrome', os: 'Linux', type: 'desktop' });
    assert.equal(describeDevice(LAPTOP), laptop, 'the parsed answer is kept');
    assert.ok(Object.isFrozen(laptop), 'shared between requests, so nobody may change it');
    // More distinct strings than the cache holds: the oldest go, answers stay right.
    for (let i = 0; i < 1200; i++) assert.equal(describeDevice(`${PHONE} build/${i}`).os, 'iOS');
    assert.deepEqual(describeDevice(LAPTOP), { browser: 'Chrome', os: 'Linux', type: 'desktop' });
    assert.deepEqual(describeDevice(null), { browser: null, os: null, type: 'other' });
  });
});

interface Login {
  accessToken: string;
  refreshToken: string;
  sessionId: string;
}

for (const kind of DATABASE_KINDS) {
  describe(`sessions a user can see and end (${kind})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(kind);
    });
    after(() => t.close());
    const db = () => t.app.ctx.db;

    async function loginFrom(email: string, agent: string): Promise<Login> {
      const res = await t.api.request('POST', '/auth/login/json', { json: { email, password: PASSWORD }, headers: { 'user-agent': agent } });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return { accessToken: res.body.access_token, refreshToken: res.body.refresh_token, sessionId: decodeJwt(res.body.access_token).sid as string };
    }

    /** Every secret the database holds for the user, and every token handed out, to grep replies for. */
    async function secretsOf(userId: string, logins: Login[]): Promise<string[]> {
      const hashes = await db().selectFrom('refresh_tokens').select('token_hash').where('user_id', '=', userId).execute();
      const user = await db().selectFrom('users').select('password_hash').where('id', '=', userId).executeTakeFirstOrThrow();
      const tokens = logins.flatMap((login) => [login.accessToken, login.refreshToken]);
      const jtis = tokens.map((token) => decodeJwt(token).jti as string);
      return [...hashes.map((row) => row.token_hash), user.password_hash!, ...tokens, ...jtis];
    }

    const revokedEvents = async (sessionId: string) =>
      (await sql<{ payload: { data: { id: string; reason: string } } }>`
        SELECT payload FROM jobs WHERE kind = 'event' AND payload->>'type' = 'session.revoked' AND payload->'data'->>'id' = ${sessionId}`.execute(db())).rows;

    it('lists two sign-ins from two devices, newest first, with the right current flag and device, and no token or hash', async () => {
      const { email, user } = await registerUser(t.api);
      const laptop = await loginFrom(email, LAPTOP);
      t.clock.advanceSeconds(5);
      const phone = await loginFrom(email, PHONE);

      const fromLaptop = await t.api.get('/auth/sessions', laptop.accessToken);
      assert.equal(fromLaptop.status, 200);
      assert.deepEqual(fromLaptop.body.map((s: { id: string }) => s.id), [phone.sessionId, laptop.sessionId]);
      const [phoneRow, laptopRow] = fromLaptop.body;
      assert.deepEqual([phoneRow.current, laptopRow.current], [false, true]);
      assert.deepEqual(laptopRow.device, { browser: 'Chrome', os: 'Linux', type: 'desktop' });
      assert.deepEqual(phoneRow.device, { browser: 'Safari', os: 'iOS', type: 'mobile' });
      assert.equal(laptopRow.user_agent, LAPTOP);
      assert.equal(laptopRow.ip, '127.0.0.1');
      assert.equal(laptopRow.aal, 'aal1');
      assert.deepEqual(laptopRow.amr, ['pwd']);
      assert.deepEqual(Object.keys(laptopRow).sort(), ['aal', 'amr', 'created_at', 'current', 'device', 'id', 'ip', 'last_used_at', 'user_agent']);

      const fromPhone = await t.api.get('/auth/sessions', phone.accessToken);
      assert.deepEqual(fromPhone.body.map((s: { current: boolean }) => s.current), [true, false]);

      const text = JSON.stringify([fromLaptop.body, fromPhone.body]);
      const secrets = await secretsOf(user.id, [laptop, phone]);
      assert.ok(secrets.length >= 9);
      for (const secret of secrets) assert.equal(text.includes(secret), false, 'a token or hash in the reply');
    });

    it('last_used_at moves on refresh', async () => {
      const { email } = await registerUser(t.api);
      const login = await loginFrom(email, LAPTOP);
      const before = (await t.api.get('/auth/sessions', login.accessToken)).body[0];
      t.clock.advanceSeconds(120);
      const refreshed = await t.api.post('/auth/refresh', { refresh_token: login.refreshToken });
      assert.equal(refreshed.status, 200);
      const after = (await t.api.get('/auth/sessions', refreshed.body.access_token)).body[0];
      assert.equal(after.id, before.id);
      const moved = Date.parse(after.last_used_at) - Date.parse(before.last_used_at);
      assert.ok(moved >= 120_000 && moved < 130_000, String(moved));
      assert.equal(after.created_at, before.created_at);
    });

    it('ending a session from another kills its refresh and access tokens at once', async () => {
      const { email, user } = await registerUser(t.api);
      const laptop = await loginFrom(email, LAPTOP);
      const phone = await loginFrom(email, PHONE);
      assert.equal((await t.api.get('/auth/me', laptop.accessToken)).status, 200);

      const ended = await t.api.delete(`/auth/sessions/${laptop.sessionId}`, phone.accessToken);
      assert.equal(ended.status, 204);
      assert.equal(ended.body, undefined);
      assert.deepEqual([(await t.api.get('/auth/me', laptop.accessToken)).status], [401]);
      const refresh = await t.api.post('/auth/refresh', { refresh_token: laptop.refreshToken });
      assert.equal(refresh.status, 401);
      // The other session is untouched.
      assert.equal((await t.api.get('/auth/me', phone.accessToken)).status, 200);
      assert.equal((await t.api.post('/auth/refresh', { refresh_token: phone.refreshToken })).status, 200);

      const events = await revokedEvents(laptop.sessionId);
      assert.equal(events.length, 1);
      assert.equal(events[0]!.payload.data.reason, 'revoked_by_user');
      const audit = await db().selectFrom('audit_logs').selectAll().where('action', '=', 'auth.session_revoked').where('user_id', '=', user.id).execute();
      assert.deepEqual(audit.map((row) => row.resource_id), [laptop.sessionId]);
      // Ending it again: it is no longer live.
      const again = await t.api.delete(`/auth/sessions/${laptop.sessionId}`, phone.accessToken);
      assert.deepEqual([again.status, again.body], [404, { detail: 'Session not found', code: 'session_not_found' }]);
    });

    it("another user's session and an unknown id are 404 Session not found; a malformed id 422", async () => {
      const alice = await registerUser(t.api);
      const bob = await registerUser(t.api);
      const aliceLogin = await loginFrom(alice.email, LAPTOP);
      const bobLogin = await loginFrom(bob.email, LAPTOP);
      for (const id of [aliceLogin.sessionId, randomUUID()]) {
        const res = await t.api.delete(`/auth/sessions/${id}`, bobLogin.accessToken);
        assert.deepEqual([res.status, res.body], [404, { detail: 'Session not found', code: 'session_not_found' }]);
      }
      assert.equal((await t.api.get('/auth/me', aliceLogin.accessToken)).status, 200, "Alice's session survives");
      assert.equal((await t.api.delete('/auth/sessions/not-a-uuid', bobLogin.accessToken)).status, 422);
      assert.equal((await t.api.delete(`/auth/sessions/${randomUUID()}`)).status, 401);
      assert.equal((await t.api.get('/auth/sessions')).status, 401);
    });

    it('revoke-others keeps only the caller', async () => {
      const { email } = await registerUser(t.api);
      const keep = await loginFrom(email, LAPTOP);
      const others = [await loginFrom(email, PHONE), await loginFrom(email, LAPTOP)];
      const res = await t.api.post('/auth/sessions/revoke-others', {}, keep.accessToken);
      assert.deepEqual([res.status, res.body], [200, { revoked: 2 }]);
      const listed = await t.api.get('/auth/sessions', keep.accessToken);
      assert.deepEqual(listed.body.map((s: { id: string }) => s.id), [keep.sessionId]);
      for (const other of others) {
        assert.equal((await t.api.get('/auth/me', other.accessToken)).status, 401);
        assert.equal((await t.api.post('/auth/refresh', { refresh_token: other.refreshToken })).status, 401);
      }
      assert.equal((await t.api.post('/auth/refresh', { refresh_token: keep.refreshToken })).status, 200);
      assert.deepEqual((await t.api.post('/auth/sessions/revoke-others', {}, keep.accessToken)).body, { revoked: 0 });
    });

    it('the admin pair lists and ends a user\'s sessions; 404 for an unknown user, 403 for others', async () => {
      const adminEmail = uniqueEmail('admin');
      await ensureAdmin(t.app.ctx, { email: adminEmail, password: PASSWORD, name: 'Ada Admin' });
      const admin = await signIn(t.api, adminEmail);
      const { email, user } = await registerUser(t.api);
      const logins = [await loginFrom(email, LAPTOP), await loginFrom(email, PHONE)];

      const listed = await t.api.get(`/admin/users/${user.id}/sessions`, admin.accessToken);
      assert.equal(listed.status, 200);
      assert.equal(listed.body.length, 2);
      assert.ok(listed.body.every((s: { current: boolean }) => s.current === false));
      const text = JSON.stringify(listed.body);
      for (const secret of await secretsOf(user.id, logins)) assert.equal(text.includes(secret), false, 'a token or hash in the reply');

      assert.equal((await t.api.get(`/admin/users/${user.id}/sessions`, logins[0]!.accessToken)).status, 403);
      assert.equal((await t.api.delete(`/admin/users/${user.id}/sessions`, logins[0]!.accessToken)).status, 403);
      assert.deepEqual((await t.api.get(`/admin/users/${randomUUID()}/sessions`, admin.accessToken)).body, { detail: 'User not found', code: 'user_not_found' });
      assert.equal((await t.api.delete(`/admin/users/${randomUUID()}/sessions`, admin.accessToken)).status, 404);

      const ended = await t.api.delete(`/admin/users/${user.id}/sessions`, admin.accessToken);
      assert.deepEqual([ended.status, ended.body], [200, { revoked: 2 }]);
      for (const login of logins) assert.equal((await t.api.get('/auth/me', login.accessToken)).status, 401);
      assert.equal((await revokedEvents(logins[1]!.sessionId))[0]?.payload.data.reason, 'revoked_by_admin');
      assert.deepEqual((await t.api.get(`/admin/users/${user.id}/sessions`, admin.accessToken)).body, []);
    });
  });
}
