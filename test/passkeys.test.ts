// Passkeys with a software authenticator that makes real attestation and assertion objects:
// registration and management, passwordless sign-in, the signature counter, origin and RP ID
// checks, single-use challenges, a passkey as the second factor, and the purge of spent challenges.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { purgeExpiredRows } from '../src/modules/retention/retention.service.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { SoftwareAuthenticator } from './helpers/authenticator.js';
import { FakeClock } from './helpers/clock.js';
import { DATABASE_KINDS } from './helpers/database.js';
import { PASSWORD, registerAndSignIn, type SignedInUser } from './helpers/fixtures.js';
import { codeAt, enrolTotp, passwordFirstFactor } from './helpers/mfa.js';

// TEST_ENV's FRONTEND_URL: the default RP ID and origin.
const ORIGIN = 'http://frontend.test';

for (const kind of DATABASE_KINDS) {
  describe(`passkeys (${kind})`, () => {
    let t: TestApp;
    const clock = new FakeClock(new Date('2026-03-01T12:00:05Z'));
    before(async () => {
      t = await startTestApp(kind, { clock });
    });
    after(() => t.close());

    async function registerPasskey(user: SignedInUser, authenticator = new SoftwareAuthenticator(ORIGIN), knobs = {}) {
      const options = await t.api.post('/auth/passkeys/register/options', {}, user.accessToken);
      assert.equal(options.status, 200, JSON.stringify(options.body));
      const response = authenticator.register(options.body, knobs);
      const verified = await t.api.post('/auth/passkeys/register/verify', { response, name: 'Laptop' }, user.accessToken);
      return { authenticator, options: options.body, response, verified };
    }

    async function passkeyLogin(authenticator: SoftwareAuthenticator, knobs = {}) {
      const options = await t.api.post('/auth/passkeys/login/options');
      assert.equal(options.status, 200);
      const response = authenticator.assert(options.body.options, knobs);
      const result = await t.api.post('/auth/passkeys/login/verify', { challenge_id: options.body.challenge_id, response });
      return { ...result, challengeId: options.body.challenge_id as string, options: options.body.options, response };
    }

    it('registers a discoverable passkey, lists, renames and deletes it', async () => {
      const user = await registerAndSignIn(t.api);
      const { options, response, verified } = await registerPasskey(user);
      assert.equal(options.rp.id, 'frontend.test');
      assert.equal(options.authenticatorSelection.residentKey, 'required');
      assert.equal(options.attestation, 'none');
      assert.equal(verified.status, 201, JSON.stringify(verified.body));
      assert.deepEqual(Object.keys(verified.body).sort(), ['created_at', 'id', 'last_used_at', 'name']);
      assert.equal(verified.body.name, 'Laptop');

      // The registration challenge is single use (a new credential over it: no duplicate to refuse).
      void response;
      const replay = await t.api.post('/auth/passkeys/register/verify', { response: new SoftwareAuthenticator(ORIGIN).register(options) }, user.accessToken);
      assert.deepEqual([replay.status, replay.body], [400, { detail: 'Passkey registration failed', code: 'passkey_registration_failed' }]);

      const list = await t.api.get('/auth/passkeys', user.accessToken);
      assert.deepEqual(list.body.map((p: { id: string }) => p.id), [verified.body.id]);
      const renamed = await t.api.patch(`/auth/passkeys/${verified.body.id}`, { name: 'Work laptop' }, user.accessToken);
      assert.deepEqual([renamed.status, renamed.body.name], [200, 'Work laptop']);
      const other = await registerAndSignIn(t.api);
      assert.equal((await t.api.patch(`/auth/passkeys/${verified.body.id}`, { name: 'x' }, other.accessToken)).status, 404);
      assert.equal((await t.api.delete(`/auth/passkeys/${verified.body.id}`, other.accessToken)).status, 404);
      assert.equal((await t.api.delete('/auth/passkeys/not-a-uuid', user.accessToken)).status, 422);
      assert.equal((await t.api.patch(`/auth/passkeys/${verified.body.id}`, { name: '' }, user.accessToken)).status, 422);
      const deleted = await t.api.delete(`/auth/passkeys/${verified.body.id}`, user.accessToken);
      assert.deepEqual([deleted.status, deleted.body], [200, { message: 'Passkey deleted' }]);
      assert.deepEqual((await t.api.get('/auth/passkeys', user.accessToken)).body, []);
      assert.equal((await t.api.post('/auth/passkeys/register/options', {})).status, 401);
    });

    it('refuses a registration from another origin or for another RP ID', async () => {
      const user = await registerAndSignIn(t.api);
      const wrongOrigin = await registerPasskey(user, undefined, { origin: 'http://evil.test' });
      assert.deepEqual([wrongOrigin.verified.status, wrongOrigin.verified.body], [400, { detail: 'Passkey registration failed', code: 'passkey_registration_failed' }]);
      const wrongRp = await registerPasskey(user, undefined, { rpId: 'evil.test' });
      assert.equal(wrongRp.verified.status, 400);
      assert.deepEqual((await t.api.get('/auth/passkeys', user.accessToken)).body, []);
    });

    it('signs in without a password: aal2 with user verification, single-use challenge, counter checked', async () => {
      const user = await registerAndSignIn(t.api);
      const { authenticator } = await registerPasskey(user);
      const login = await passkeyLogin(authenticator, { counter: 5 });
      assert.equal(login.status, 200, JSON.stringify(login.body));
      const claims = decodeJwt(login.body.access_token);
      assert.equal(claims.sub, user.id);
      assert.equal(claims.aal, 'aal2');
      assert.deepEqual(claims.amr, ['passkey']);
      const listed = (await t.api.get('/auth/passkeys', user.accessToken)).body[0];
      assert.ok(listed.last_used_at);

      // The same challenge twice (a fresh, valid assertion over it: the counter is not what refuses it).
      const reused = await t.api.post('/auth/passkeys/login/verify', { challenge_id: login.challengeId, response: authenticator.assert(login.options, { counter: 50 }) });
      assert.deepEqual([reused.status, reused.body], [401, { detail: 'Passkey sign-in failed', code: 'passkey_sign_in_failed' }]);
      // A counter that goes backwards (or stands still) is a cloned authenticator.
      assert.equal((await passkeyLogin(authenticator, { counter: 3 })).status, 401);
      assert.equal((await passkeyLogin(authenticator, { counter: 5 })).status, 401);
      assert.equal((await passkeyLogin(authenticator, { counter: 51 })).status, 200);
      // Another origin or RP ID.
      assert.equal((await passkeyLogin(authenticator, { origin: 'http://evil.test' })).status, 401);
      assert.equal((await passkeyLogin(authenticator, { rpId: 'evil.test' })).status, 401);
      // An expired challenge.
      const options = await t.api.post('/auth/passkeys/login/options');
      clock.advanceSeconds(5 * 60 + 1);
      const late = await t.api.post('/auth/passkeys/login/verify', { challenge_id: options.body.challenge_id, response: authenticator.assert(options.body.options) });
      assert.deepEqual([late.status, late.body], [401, { detail: 'Passkey sign-in failed', code: 'passkey_sign_in_failed' }]);
      // An unknown credential.
      const stranger = new SoftwareAuthenticator(ORIGIN);
      stranger.register({ challenge: 'x', rp: { id: 'frontend.test' }, user: { id: 'x' } });
      assert.equal((await passkeyLogin(stranger)).status, 401);
      assert.equal((await t.api.post('/auth/passkeys/login/verify', { challenge_id: 'nope', response: login.response })).status, 422);
    });

    it('without user verification: aal1, and for an enrolled user the MFA challenge', async () => {
      const user = await registerAndSignIn(t.api);
      const { authenticator } = await registerPasskey(user);
      const plain = await passkeyLogin(authenticator, { userVerified: false });
      assert.equal(plain.status, 200);
      assert.equal(decodeJwt(plain.body.access_token).aal, 'aal1');

      const { secret } = await enrolTotp(t.api, clock, user.accessToken);
      const challenged = await passkeyLogin(authenticator, { userVerified: false });
      assert.equal(challenged.status, 200);
      assert.equal(challenged.body.mfa_required, true);
      assert.equal(challenged.body.access_token, undefined);
      assert.deepEqual(challenged.body.methods, ['totp', 'recovery_code']);
      const verified = await t.api.post('/auth/mfa/verify', { mfa_token: challenged.body.mfa_token, code: codeAt(secret, clock) });
      assert.equal(verified.status, 200);
      assert.deepEqual(decodeJwt(verified.body.access_token).amr, ['passkey', 'otp']);
      // With user verification the passkey is both factors.
      const both = await passkeyLogin(authenticator);
      assert.deepEqual(decodeJwt(both.body.access_token).amr, ['passkey']);
      assert.equal(decodeJwt(both.body.access_token).aal, 'aal2');
    });

    it('serves as the second factor after a password', async () => {
      const user = await registerAndSignIn(t.api);
      const { authenticator } = await registerPasskey(user);
      await enrolTotp(t.api, clock, user.accessToken);
      const login = await t.api.post('/auth/login/json', { email: user.email, password: PASSWORD });
      assert.deepEqual(login.body.methods, ['totp', 'recovery_code', 'passkey']);
      const options = await t.api.post('/auth/mfa/passkey/options', { mfa_token: login.body.mfa_token });
      assert.equal(options.status, 200);
      assert.equal(options.body.options.allowCredentials.length, 1);
      // Another user's passkey does not do.
      const other = await registerAndSignIn(t.api);
      const { authenticator: theirs } = await registerPasskey(other);
      const wrong = await t.api.post('/auth/mfa/verify', { mfa_token: login.body.mfa_token, passkey_response: theirs.assert(options.body.options) });
      assert.deepEqual([wrong.status, wrong.body], [401, { detail: 'Invalid MFA code', code: 'invalid_mfa_code' }]);
      // The answered challenge is spent: new options, then the right passkey.
      const again = await t.api.post('/auth/mfa/passkey/options', { mfa_token: login.body.mfa_token });
      const right = await t.api.post('/auth/mfa/verify', { mfa_token: login.body.mfa_token, passkey_response: authenticator.assert(again.body.options) });
      assert.equal(right.status, 200, JSON.stringify(right.body));
      assert.deepEqual(decodeJwt(right.body.access_token).amr, ['pwd', 'passkey']);
      assert.equal(decodeJwt(right.body.access_token).aal, 'aal2');
      const spent = await t.api.post('/auth/mfa/passkey/options', { mfa_token: login.body.mfa_token });
      assert.deepEqual([spent.status, spent.body], [401, { detail: 'Invalid or expired MFA token', code: 'invalid_or_expired_mfa_token' }]);
    });

    it('spent MFA and passkey challenges are purged after a day', async () => {
      const user = await registerAndSignIn(t.api);
      await registerPasskey(user);
      await enrolTotp(t.api, clock, user.accessToken);
      await passwordFirstFactor(t.api, user.email, PASSWORD);
      await t.api.post('/auth/passkeys/login/options');
      clock.advanceDays(1);
      clock.advanceSeconds(10 * 60);
      const report = await purgeExpiredRows(t.app.ctx);
      assert.ok((report.removed.mfa_challenges ?? 0) >= 1, JSON.stringify(report.removed));
      assert.ok((report.removed.webauthn_challenges ?? 0) >= 2, JSON.stringify(report.removed));
      const left = await t.app.ctx.db.selectFrom('webauthn_challenges').select('id').execute();
      assert.equal(left.length, 0);
    });
  });
}
