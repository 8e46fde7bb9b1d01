// TOTP as a second factor, at controlled clock times: the algorithm against RFC 6238's
// vectors, enrolment, the mfa_token challenge, replay, clock drift, recovery codes, the
// lockout, events, the admin's reset, and the code check offered to sensitive actions.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { Secret } from 'otpauth';
import { verifyMfaCodeForAction } from '../src/modules/mfa/mfa-codes.js';
import { totpCode } from '../src/modules/mfa/totp.js';
import { ensureAdmin } from '../src/modules/admin/create-admin.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { FakeClock } from './helpers/clock.js';
import { DATABASE_KINDS } from './helpers/database.js';
import { PASSWORD, registerAndSignIn, signIn, uniqueEmail } from './helpers/fixtures.js';
import { codeAt, enrolTotp, passwordFirstFactor } from './helpers/mfa.js';

describe('TOTP algorithm (RFC 6238, appendix B, SHA-1)', () => {
  // The RFC's seed is the ASCII string "12345678901234567890"; its vectors have 8 digits.
  const seed = new Secret({ buffer: new TextEncoder().encode('12345678901234567890').buffer as ArrayBuffer });
  const vectors: Array<[number, string]> = [
    [59, '94287082'],
    [1111111109, '07081804'],
    [1111111111, '14050471'],
    [1234567890, '89005924'],
    [2000000000, '69279037'],
    [20000000000, '65353130'],
  ];
  for (const [seconds, expected] of vectors) {
    it(`T = ${seconds}: ${expected}`, () => {
      assert.equal(totpCode(seed, new Date(seconds * 1000), 8), expected);
    });
  }
  it('six digits are the last six of the eight', () => {
    assert.equal(totpCode(seed, new Date(59_000)), '287082');
  });
});

for (const kind of DATABASE_KINDS) {
  describe(`TOTP second factor (${kind})`, () => {
    let t: TestApp;
    // Five seconds into a 30-second step: moving by whole steps never crosses a boundary by accident.
    const clock = new FakeClock(new Date('2026-03-01T12:00:05Z'));
    before(async () => {
      t = await startTestApp(kind, { clock });
    });
    after(() => t.close());

    const failedCount = async (id: string) =>
      (await t.app.ctx.db.selectFrom('users').select(['failed_login_count', 'locked_until']).where('id', '=', id).executeTakeFirstOrThrow());

    it('setup, enable with a code, and from then on every password sign-in asks for the second factor', async () => {
      const user = await registerAndSignIn(t.api);
      const setup = await t.api.post('/auth/mfa/totp/setup', {}, user.accessToken);
      assert.equal(setup.status, 200);
      assert.match(setup.body.secret, /^[A-Z2-7]{32}$/, '160 bits, base32');
      assert.match(setup.body.otpauth_url, /^otpauth:\/\/totp\/.*secret=/);
      // Inactive until enabled: sign-in is unchanged.
      assert.equal((await t.api.post('/auth/login/json', { email: user.email, password: PASSWORD })).body.access_token !== undefined, true);
      const stored = await t.app.ctx.db.selectFrom('user_mfa').select('totp_secret').where('user_id', '=', user.id).executeTakeFirstOrThrow();
      assert.ok(!stored.totp_secret.includes(setup.body.secret), 'the secret is sealed at rest');

      const wrong = await t.api.post('/auth/mfa/totp/enable', { code: codeAt(setup.body.secret, clock, 3) }, user.accessToken);
      assert.deepEqual([wrong.status, wrong.body], [400, { detail: 'Invalid MFA code', code: 'invalid_mfa_code' }]);
      const enable = await t.api.post('/auth/mfa/totp/enable', { code: codeAt(setup.body.secret, clock) }, user.accessToken);
      assert.equal(enable.status, 200);
      assert.equal(enable.body.recovery_codes.length, 10);
      assert.equal(new Set(enable.body.recovery_codes).size, 10);
      const again = await t.api.post('/auth/mfa/totp/setup', {}, user.accessToken);
      assert.deepEqual([again.status, again.body], [400, { detail: 'MFA is already enabled', code: 'mfa_already_enabled' }]);
      assert.equal((await t.api.get('/auth/me', user.accessToken)).body.mfa_enabled, true);
      const hashes = await t.app.ctx.db.selectFrom('mfa_recovery_codes').select('code_hash').where('user_id', '=', user.id).execute();
      assert.equal(hashes.length, 10);
      for (const code of enable.body.recovery_codes) assert.ok(!hashes.some((h) => h.code_hash.includes(code)), 'stored hashed');

      const login = await t.api.post('/auth/login/json', { email: user.email, password: PASSWORD });
      assert.equal(login.status, 200);
      assert.deepEqual(Object.keys(login.body).sort(), ['methods', 'mfa_required', 'mfa_token']);
      assert.deepEqual(login.body.methods, ['totp', 'recovery_code']);

      // The enabling code's step is spent: the same code does not sign in.
      const replayed = await t.api.post('/auth/mfa/verify', { mfa_token: login.body.mfa_token, code: codeAt(setup.body.secret, clock) });
      assert.deepEqual([replayed.status, replayed.body], [401, { detail: 'Invalid MFA code', code: 'invalid_mfa_code' }]);
      clock.advanceSeconds(30);
      const verified = await t.api.post('/auth/mfa/verify', { mfa_token: login.body.mfa_token, code: codeAt(setup.body.secret, clock) });
      assert.equal(verified.status, 200, JSON.stringify(verified.body));
      const claims = decodeJwt(verified.body.access_token);
      assert.equal(claims.aal, 'aal2');
      assert.deepEqual(claims.amr, ['pwd', 'otp']);
      // The token is single use.
      clock.advanceSeconds(30);
      const reused = await t.api.post('/auth/mfa/verify', { mfa_token: login.body.mfa_token, code: codeAt(setup.body.secret, clock) });
      assert.deepEqual([reused.status, reused.body], [401, { detail: 'Invalid or expired MFA token', code: 'invalid_or_expired_mfa_token' }]);
      // The refresh keeps the session's aal2.
      const refreshed = await t.api.post('/auth/refresh', { refresh_token: verified.body.refresh_token });
      assert.equal(decodeJwt(refreshed.body.access_token).aal, 'aal2');
    });

    it('a code is accepted once: the same code twice, and two concurrent requests with one code', async () => {
      const user = await registerAndSignIn(t.api);
      const { secret } = await enrolTotp(t.api, clock, user.accessToken);
      const code = codeAt(secret, clock);
      const first = await passwordFirstFactor(t.api, user.email, PASSWORD);
      const second = await passwordFirstFactor(t.api, user.email, PASSWORD);
      assert.equal((await t.api.post('/auth/mfa/verify', { mfa_token: first, code })).status, 200);
      assert.equal((await t.api.post('/auth/mfa/verify', { mfa_token: second, code })).status, 401);

      clock.advanceSeconds(30);
      const next = codeAt(secret, clock);
      const tokens = await Promise.all(Array.from({ length: 4 }, () => passwordFirstFactor(t.api, user.email, PASSWORD)));
      const results = await Promise.all(tokens.map((mfa_token) => t.api.post('/auth/mfa/verify', { mfa_token, code: next })));
      assert.deepEqual(results.map((r) => r.status).sort(), [200, 401, 401, 401]);
      // An older step, after a newer one passed, is refused too.
      clock.advanceSeconds(30);
      const older = codeAt(secret, clock, -1);
      const stale = await passwordFirstFactor(t.api, user.email, PASSWORD);
      assert.equal((await t.api.post('/auth/mfa/verify', { mfa_token: stale, code: older })).status, 401);
    });

    it('one step of clock drift either way is accepted, two are not', async () => {
      const user = await registerAndSignIn(t.api);
      const { secret } = await enrolTotp(t.api, clock, user.accessToken);
      // Move well past the enabling step, so earlier steps are not spent.
      clock.advanceSeconds(120);
      const tooEarly = await passwordFirstFactor(t.api, user.email, PASSWORD);
      assert.equal((await t.api.post('/auth/mfa/verify', { mfa_token: tooEarly, code: codeAt(secret, clock, -2) })).status, 401);
      assert.equal((await t.api.post('/auth/mfa/verify', { mfa_token: tooEarly, code: codeAt(secret, clock, 2) })).status, 401);
      assert.equal((await t.api.post('/auth/mfa/verify', { mfa_token: tooEarly, code: codeAt(secret, clock, -1) })).status, 200);
      const ahead = await passwordFirstFactor(t.api, user.email, PASSWORD);
      assert.equal((await t.api.post('/auth/mfa/verify', { mfa_token: ahead, code: codeAt(secret, clock, 1) })).status, 200);
    });

    it('a recovery code signs in once; a second use is refused', async () => {
      const user = await registerAndSignIn(t.api);
      const { recoveryCodes } = await enrolTotp(t.api, clock, user.accessToken);
      const token = await passwordFirstFactor(t.api, user.email, PASSWORD);
      const used = await t.api.post('/auth/mfa/verify', { mfa_token: token, recovery_code: recoveryCodes[0]!.toLowerCase() });
      assert.equal(used.status, 200);
      assert.deepEqual(decodeJwt(used.body.access_token).amr, ['pwd', 'recovery_code']);
      const again = await passwordFirstFactor(t.api, user.email, PASSWORD);
      const reused = await t.api.post('/auth/mfa/verify', { mfa_token: again, recovery_code: recoveryCodes[0] });
      assert.deepEqual([reused.status, reused.body], [401, { detail: 'Invalid MFA code', code: 'invalid_mfa_code' }]);
      const both = await t.api.post('/auth/mfa/verify', { mfa_token: again, code: '123456', recovery_code: recoveryCodes[1] });
      assert.equal(both.status, 422);
    });

    it('the 5th wrong code kills the mfa_token; an expired or unknown token is refused', async () => {
      const user = await registerAndSignIn(t.api);
      const { secret } = await enrolTotp(t.api, clock, user.accessToken);
      const token = await passwordFirstFactor(t.api, user.email, PASSWORD);
      const wrong = codeAt(secret, clock, 5);
      for (let i = 0; i < 4; i++) {
        assert.deepEqual((await t.api.post('/auth/mfa/verify', { mfa_token: token, code: wrong })).body, { detail: 'Invalid MFA code', code: 'invalid_mfa_code' });
      }
      const fifth = await t.api.post('/auth/mfa/verify', { mfa_token: token, code: wrong });
      assert.deepEqual([fifth.status, fifth.body], [401, { detail: 'Invalid MFA code', code: 'invalid_mfa_code' }]);
      const dead = await t.api.post('/auth/mfa/verify', { mfa_token: token, code: codeAt(secret, clock) });
      assert.deepEqual([dead.status, dead.body], [401, { detail: 'Invalid or expired MFA token', code: 'invalid_or_expired_mfa_token' }]);

      const late = await passwordFirstFactor(t.api, user.email, PASSWORD);
      clock.advanceSeconds(5 * 60 + 1);
      const expired = await t.api.post('/auth/mfa/verify', { mfa_token: late, code: codeAt(secret, clock) });
      assert.deepEqual([expired.status, expired.body], [401, { detail: 'Invalid or expired MFA token', code: 'invalid_or_expired_mfa_token' }]);
      const unknown = await t.api.post('/auth/mfa/verify', { mfa_token: 'nope', code: codeAt(secret, clock) });
      assert.deepEqual([unknown.status, unknown.body], [401, { detail: 'Invalid or expired MFA token', code: 'invalid_or_expired_mfa_token' }]);
    });

    it('wrong codes count toward the lockout, and a right password resets the count only after the second factor', async () => {
      const user = await registerAndSignIn(t.api);
      const { secret } = await enrolTotp(t.api, clock, user.accessToken);
      await t.api.post('/auth/login/json', { email: user.email, password: 'wrong password' });
      const token = await passwordFirstFactor(t.api, user.email, PASSWORD);
      // The right password neither resets the count nor spends a guess (issue 24: abandoned
      // second steps must not lock the account for good).
      assert.equal((await failedCount(user.id)).failed_login_count, 1, 'the right password alone does not reset the count');
      await t.api.post('/auth/mfa/verify', { mfa_token: token, code: codeAt(secret, clock, 7) });
      assert.equal((await failedCount(user.id)).failed_login_count, 2);
      assert.equal((await t.api.post('/auth/mfa/verify', { mfa_token: token, code: codeAt(secret, clock) })).status, 200);
      assert.equal((await failedCount(user.id)).failed_login_count, 0);

      // Ten wrong codes, over as many sign-ins as it takes (the 5th kills a token), lock the account.
      let guesses = 0;
      while (guesses < 10) {
        const next = await passwordFirstFactor(t.api, user.email, PASSWORD);
        for (let i = 0; i < 4 && guesses < 10; i++, guesses++) {
          await t.api.post('/auth/mfa/verify', { mfa_token: next, code: codeAt(secret, clock, 9) });
        }
      }
      assert.ok((await failedCount(user.id)).locked_until, 'locked');
      const refused = await t.api.post('/auth/login/json', { email: user.email, password: PASSWORD });
      assert.deepEqual([refused.status, refused.body], [401, { detail: 'Incorrect email or password', code: 'invalid_credentials' }]);
      clock.advanceSeconds(61);
    });

    it('recovery codes can be regenerated (the old set dies) and TOTP disabled, with events and audit rows', async () => {
      const user = await registerAndSignIn(t.api);
      const { secret, recoveryCodes } = await enrolTotp(t.api, clock, user.accessToken);
      const regenerated = await t.api.post('/auth/mfa/recovery-codes', { code: codeAt(secret, clock) }, user.accessToken);
      assert.equal(regenerated.status, 200);
      assert.equal(regenerated.body.recovery_codes.length, 10);
      const wrongDisable = await t.api.post('/auth/mfa/totp/disable', { code: recoveryCodes[0] }, user.accessToken);
      assert.deepEqual([wrongDisable.status, wrongDisable.body], [400, { detail: 'Invalid MFA code', code: 'invalid_mfa_code' }], 'the old set died');
      const disabled = await t.api.post('/auth/mfa/totp/disable', { code: regenerated.body.recovery_codes[3] }, user.accessToken);
      assert.deepEqual([disabled.status, disabled.body], [200, { message: 'MFA disabled' }]);
      assert.equal((await t.api.get('/auth/me', user.accessToken)).body.mfa_enabled, false);
      assert.ok((await t.api.post('/auth/login/json', { email: user.email, password: PASSWORD })).body.access_token);
      const notEnabled = await t.api.post('/auth/mfa/totp/disable', { code: '123456' }, user.accessToken);
      assert.deepEqual([notEnabled.status, notEnabled.body], [400, { detail: 'MFA is not enabled', code: 'mfa_not_enabled' }]);

      const events = await t.app.ctx.db.selectFrom('jobs').select('payload').where('kind', '=', 'event').orderBy('created_at').execute();
      const mine = events.map((e) => e.payload as { type: string; data: { id: string; mfa_enabled: boolean } }).filter((p) => p.data.id === user.id && p.type.startsWith('user.mfa_'));
      assert.deepEqual(mine.map((p) => [p.type, p.data.mfa_enabled]), [['user.mfa_enabled', true], ['user.mfa_disabled', false]]);
      const actions = await t.app.ctx.db.selectFrom('audit_logs').select('action').where('user_id', '=', user.id).execute();
      for (const action of ['auth.mfa_totp_setup', 'auth.mfa_enabled', 'auth.mfa_recovery_codes_regenerated', 'auth.mfa_failed', 'auth.mfa_disabled']) {
        assert.ok(actions.some((a) => a.action === action), action);
      }
    });

    it('verifyMfaCodeForAction checks and spends a code for a sensitive action', async () => {
      const user = await registerAndSignIn(t.api);
      const { secret, recoveryCodes } = await enrolTotp(t.api, clock, user.accessToken);
      const row = await t.app.ctx.db.selectFrom('users').selectAll().where('id', '=', user.id).executeTakeFirstOrThrow();
      const meta = { ip: null, userAgent: null };
      assert.equal(await verifyMfaCodeForAction(t.app.ctx, meta, { user: row, code: codeAt(secret, clock) }), 'otp');
      await assert.rejects(verifyMfaCodeForAction(t.app.ctx, meta, { user: row, code: codeAt(secret, clock) }), { statusCode: 400, detail: 'Invalid MFA code' });
      assert.equal(await verifyMfaCodeForAction(t.app.ctx, meta, { user: row, code: recoveryCodes[2]! }), 'recovery_code');
      await assert.rejects(verifyMfaCodeForAction(t.app.ctx, meta, { user: row, code: recoveryCodes[2]! }), { detail: 'Invalid MFA code', code: 'invalid_mfa_code' });
      // Concurrent checks of one code (no sign-in row lock serialises these): one passes.
      clock.advanceSeconds(30);
      const code = codeAt(secret, clock);
      const results = await Promise.allSettled(Array.from({ length: 4 }, () => verifyMfaCodeForAction(t.app.ctx, meta, { user: row, code: code })));
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    });

    it('DELETE /auth/me of an enrolled user needs a right code as well as the password', async () => {
      const user = await registerAndSignIn(t.api);
      const { secret } = await enrolTotp(t.api, clock, user.accessToken);
      const remove = (body: Record<string, unknown>) => t.api.request('DELETE', '/auth/me', { json: body, token: user.accessToken });
      const missing = await remove({ password: PASSWORD });
      assert.equal(missing.status, 400);
      assert.deepEqual(missing.body, { detail: 'Invalid MFA code', code: 'invalid_mfa_code' });
      const wrong = await remove({ password: PASSWORD, code: codeAt(secret, clock, 3) });
      assert.equal(wrong.status, 400);
      assert.deepEqual(wrong.body, { detail: 'Invalid MFA code', code: 'invalid_mfa_code' });
      assert.ok(await t.app.ctx.db.selectFrom('users').select('id').where('id', '=', user.id).executeTakeFirst(), 'not deleted');
      const right = await remove({ password: PASSWORD, code: codeAt(secret, clock) });
      assert.equal(right.status, 204, JSON.stringify(right.body));
      assert.equal(await t.app.ctx.db.selectFrom('users').select('id').where('id', '=', user.id).executeTakeFirst(), undefined);
    });

    it('an admin resets a user who lost every factor: MFA off, sessions ended, audited', async () => {
      const adminEmail = uniqueEmail('admin');
      await ensureAdmin(t.app.ctx, { email: adminEmail, password: PASSWORD });
      const admin = await signIn(t.api, adminEmail);
      const user = await registerAndSignIn(t.api);
      await enrolTotp(t.api, clock, user.accessToken);
      const pending = await passwordFirstFactor(t.api, user.email, PASSWORD);
      const forbidden = await t.api.post(`/admin/users/${user.id}/mfa/reset`, {}, user.accessToken);
      assert.equal(forbidden.status, 403);
      const reset = await t.api.post(`/admin/users/${user.id}/mfa/reset`, {}, admin.accessToken);
      assert.equal(reset.status, 200);
      assert.equal(reset.body.mfa_enabled, false);
      assert.equal((await t.api.get('/auth/me', user.accessToken)).status, 401, 'sessions ended');
      assert.equal((await t.api.post('/auth/mfa/verify', { mfa_token: pending, code: '000000' })).status, 401);
      assert.ok((await t.api.post('/auth/login/json', { email: user.email, password: PASSWORD })).body.access_token);
      const audit = await t.app.ctx.db.selectFrom('audit_logs').select(['action', 'resource_id']).where('action', '=', 'admin.user_mfa_reset').execute();
      assert.ok(audit.some((a) => a.resource_id === user.id));
      assert.equal((await t.api.post('/admin/users/00000000-0000-4000-8000-000000000000/mfa/reset', {}, admin.accessToken)).status, 404);
      assert.equal((await t.api.post('/admin/users/not-a-uuid/mfa/reset', {}, admin.accessToken)).status, 422);
    });
  });
}
