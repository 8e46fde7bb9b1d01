// /auth/email/*: the link sent on registration, on an email change and on request, followed
// from a real SMTP server; the platform switch; stale, reused, expired and foreign tokens.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestApp } from './helpers/app.js';
import { DATABASE_KINDS } from './helpers/database.js';
import { registerAndSignIn, registerUser, uniqueEmail } from './helpers/fixtures.js';
import { queuedEmails } from './helpers/jobs.js';
import { isResetEmail, isVerificationEmail, smtpEnv, startSmtpServer, tokenFromLink, type TestSmtpServer } from './helpers/smtp.js';

for (const kind of DATABASE_KINDS) {
  describe(`email verification (${kind})`, () => {
    let smtp: TestSmtpServer;
    let t: TestApp;
    before(async () => {
      smtp = await startSmtpServer();
      t = await startTestApp(kind, { env: { ...smtpEnv(smtp) } });
    });
    after(async () => {
      await t.close();
      await smtp.close();
    });

    const linkFor = async (email: string) => tokenFromLink(await smtp.waitForMessage(email, 5000, isVerificationEmail), '/verify-email');
    const verify = (token: unknown) => t.api.post('/auth/email/verify', { token });
    const setEnabled = (enabled: boolean) =>
      t.app.ctx.db
        .insertInto('platform_settings')
        .values({ key: 'email_verification_enabled', value: JSON.stringify(enabled) })
        .onConflict((oc) => oc.column('key').doUpdateSet({ value: JSON.stringify(enabled) }))
        .execute();

    it('verification status is public', async () => {
      const status = await t.api.get('/auth/email/verification-status');
      assert.deepEqual([status.status, status.body], [200, { enabled: true }]);
    });

    it('the link emailed on registration verifies the address once', async () => {
      const user = await registerAndSignIn(t.api);
      const token = await linkFor(user.email);

      const ok = await verify(token);
      assert.deepEqual([ok.status, ok.body], [200, { message: 'Email verified successfully' }]);
      const me = await t.api.get('/auth/me', user.accessToken);
      assert.ok(me.body.email_verified_at, 'email_verified_at is set');

      const reused = await verify(token);
      assert.deepEqual([reused.status, reused.body], [400, { detail: 'Verification token has already been used or has expired', code: 'verification_token_spent' }]);
      const audit = await t.app.ctx.db
        .selectFrom('audit_logs')
        .select('action')
        .where('user_id', '=', user.id)
        .where('action', '=', 'auth.email_verified')
        .execute();
      assert.equal(audit.length, 1);

      const send = await t.api.post('/auth/email/send-verification', {}, user.accessToken);
      assert.deepEqual([send.status, send.body], [400, { detail: 'Email is already verified', code: 'email_already_verified' }]);
    });

    it('send-verification emails a new link; it needs a bearer token', async () => {
      const user = await registerAndSignIn(t.api);
      await smtp.waitForMessage(user.email, 5000, isVerificationEmail); // the registration email
      assert.equal((await t.api.post('/auth/email/send-verification', {})).status, 401);

      const send = await t.api.post('/auth/email/send-verification', {}, user.accessToken);
      assert.deepEqual([send.status, send.body], [200, { message: 'Verification email sent' }]);
      const token = await linkFor(user.email);
      assert.equal((await verify(token)).status, 200);
    });

    it('of two concurrent verifications with one link exactly one succeeds', async () => {
      const { email } = await registerUser(t.api);
      const token = await linkFor(email);
      const results = await Promise.all([verify(token), verify(token), verify(token)]);
      assert.deepEqual(results.map((r) => r.status).sort(), [200, 400, 400]);
    });

    it('after an email change only the link sent to the new address verifies it', async () => {
      const user = await registerAndSignIn(t.api);
      const oldLink = await linkFor(user.email);
      const newEmail = uniqueEmail('moved');
      const patch = await t.api.patch('/auth/me', { email: newEmail, current_password: user.password }, user.accessToken);
      assert.equal(patch.status, 200, JSON.stringify(patch.body));
      const newLink = await linkFor(newEmail);

      const stale = await verify(oldLink);
      assert.deepEqual([stale.status, stale.body], [400, { detail: 'Invalid or expired verification token', code: 'invalid_or_expired_verification_token' }]);
      assert.equal((await t.api.get('/auth/me', user.accessToken)).body.email_verified_at, null);

      assert.equal((await verify(newLink)).status, 200);
      const me = await t.api.get('/auth/me', user.accessToken);
      assert.equal(me.body.email, newEmail);
      assert.ok(me.body.email_verified_at);
    });

    it('an expired link is refused', async () => {
      const { email } = await registerUser(t.api);
      const token = await linkFor(email);
      t.clock.advanceSeconds(24 * 3600 + 1);
      const late = await verify(token);
      assert.deepEqual([late.status, late.body], [400, { detail: 'Invalid or expired verification token', code: 'invalid_or_expired_verification_token' }]);
    });

    it('refuses tokens of other kinds', async () => {
      const user = await registerAndSignIn(t.api);
      await t.api.post('/auth/password/forgot', { email: user.email });
      const reset = tokenFromLink(await smtp.waitForMessage(user.email, 5000, isResetEmail), '/reset-password');
      for (const token of [user.accessToken, user.refreshToken, reset, 'not-a-jwt', 'x'.repeat(10_000), 12345, ['a'], { a: 1 }]) {
        const response = await verify(token);
        assert.deepEqual([response.status, response.body], [400, { detail: 'Invalid or expired verification token', code: 'invalid_or_expired_verification_token' }], JSON.stringify(token).slice(0, 40));
      }
    });

    it('a missing token is "Token is required"; a body that is not an object is 422', async () => {
      for (const body of [{}, { token: '' }, { token: null }, { other: 'field' }]) {
        const response = await t.api.post('/auth/email/verify', body);
        assert.deepEqual([response.status, response.body], [400, { detail: 'Token is required', code: 'verification_token_required' }], JSON.stringify(body));
      }
      for (const raw of ['[]', '"token"', 'null', '{"token":']) {
        const response = await t.api.request('POST', '/auth/email/verify', { raw });
        assert.equal(response.status, 422, raw);
      }
    });

    it('when verification is switched off: status says so, send-verification is 403, registration sends nothing', async () => {
      const user = await registerAndSignIn(t.api);
      await setEnabled(false);
      try {
        assert.deepEqual((await t.api.get('/auth/email/verification-status')).body, { enabled: false });
        const send = await t.api.post('/auth/email/send-verification', {}, user.accessToken);
        assert.deepEqual([send.status, send.body], [403, { detail: 'Email verification is currently disabled', code: 'email_verification_disabled' }]);
        const { email } = await registerUser(t.api);
        const rows = await queuedEmails(t.app.ctx.db, { to: email });
        assert.equal(rows.length, 0);
      } finally {
        await setEnabled(true);
      }
    });
  });
}
