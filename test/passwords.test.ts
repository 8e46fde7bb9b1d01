// /auth/password/*: change, forgot, verify-reset-token and reset, following the emailed link
// from a real SMTP server.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestApp } from './helpers/app.js';
import { DATABASE_KINDS } from './helpers/database.js';
import { PASSWORD, registerAndSignIn, registerUser, signIn, uniqueEmail } from './helpers/fixtures.js';
import { queuedEmails } from './helpers/jobs.js';
import { isResetEmail, isVerificationEmail, smtpEnv, startSmtpServer, tokenFromLink, type TestSmtpServer } from './helpers/smtp.js';

const NEW_PASSWORD = 'a whole new passphrase';
const FORGOT_MESSAGE = 'If an account with that email exists, a reset link has been sent.';

for (const kind of DATABASE_KINDS) {
  describe(`passwords (${kind})`, () => {
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

    async function resetTokenFor(email: string): Promise<string> {
      const forgot = await t.api.post('/auth/password/forgot', { email });
      assert.equal(forgot.status, 200);
      return tokenFromLink(await smtp.waitForMessage(email, 5000, isResetEmail), '/reset-password');
    }

    const auditActions = async (userId: string) =>
      (await t.app.ctx.db.selectFrom('audit_logs').select('action').where('user_id', '=', userId).execute()).map((r) => r.action);

    it('a reset link works once, ends every session and clears must_change_password', async () => {
      const user = await registerAndSignIn(t.api);
      const other = await signIn(t.api, user.email);
      await t.app.ctx.db.updateTable('users').set({ must_change_password: true }).where('id', '=', user.id).execute();

      // Case and spaces do not matter; the link goes to the stored address.
      const forgot = await t.api.post('/auth/password/forgot', { email: `  ${user.email.toUpperCase()} ` });
      assert.deepEqual([forgot.status, forgot.body], [200, { message: FORGOT_MESSAGE }]);
      const message = await smtp.waitForMessage(user.email, 5000, isResetEmail);
      assert.match(message.text, /^http:\/\/frontend\.test\/reset-password\?token=/m);
      assert.match(message.html, /href="http:\/\/frontend\.test\/reset-password\?token=/);
      const token = tokenFromLink(message, '/reset-password');

      const check = await t.api.post('/auth/password/verify-reset-token', { token });
      assert.deepEqual([check.status, check.body], [200, { valid: true, email: user.email }]);

      const reset = await t.api.post('/auth/password/reset', { token, new_password: NEW_PASSWORD });
      assert.deepEqual([reset.status, reset.body], [200, { message: 'Password has been reset successfully' }]);

      const again = await t.api.post('/auth/password/reset', { token, new_password: 'yet another passphrase' });
      assert.deepEqual([again.status, again.body], [400, { detail: 'Reset token has already been used or has expired', code: 'reset_token_spent' }]);
      assert.deepEqual((await t.api.post('/auth/password/verify-reset-token', { token })).body, { valid: false });

      for (const session of [user, other]) {
        assert.equal((await t.api.get('/auth/me', session.accessToken)).status, 401);
        assert.equal((await t.api.post('/auth/refresh', { refresh_token: session.refreshToken })).status, 401);
      }
      assert.equal((await t.api.post('/auth/login/json', { email: user.email, password: PASSWORD })).status, 401);
      const login = await t.api.post('/auth/login/json', { email: user.email, password: NEW_PASSWORD });
      assert.equal(login.status, 200);
      assert.equal(login.body.must_change_password, false);

      const actions = await auditActions(user.id);
      assert.ok(actions.includes('auth.password_reset.request'));
      assert.ok(actions.includes('auth.password_reset.complete'));
      const stored = await t.app.ctx.db.selectFrom('password_reset_tokens').selectAll().where('user_id', '=', user.id).execute();
      assert.equal(stored.length, 1);
      assert.ok(!stored[0]!.token_hash.includes('.') && stored[0]!.token_hash.length === 64, 'only a hash is stored');
    });

    it('of two concurrent resets with one link exactly one succeeds', async () => {
      const { email } = await registerUser(t.api);
      const token = await resetTokenFor(email);
      const results = await Promise.all(
        ['first new passphrase', 'second new passphrase', 'third new passphrase'].map((new_password) =>
          t.api.post('/auth/password/reset', { token, new_password }),
        ),
      );
      assert.deepEqual(results.map((r) => r.status).sort(), [200, 400, 400]);
    });

    it('an expired link is refused', async () => {
      const { email } = await registerUser(t.api);
      const token = await resetTokenFor(email);
      t.clock.advanceSeconds(3601);
      assert.deepEqual((await t.api.post('/auth/password/verify-reset-token', { token })).body, { valid: false });
      const reset = await t.api.post('/auth/password/reset', { token, new_password: NEW_PASSWORD });
      assert.deepEqual([reset.status, reset.body], [400, { detail: 'Invalid or expired reset token', code: 'invalid_or_expired_reset_token' }]);
    });

    it('refuses tokens of other kinds and garbage', async () => {
      const user = await registerAndSignIn(t.api);
      const verification = tokenFromLink(await smtp.waitForMessage(user.email, 5000, isVerificationEmail), '/verify-email');
      for (const token of [verification, user.accessToken, user.refreshToken, 'not-a-jwt', '']) {
        const reset = await t.api.post('/auth/password/reset', { token, new_password: NEW_PASSWORD });
        assert.deepEqual([reset.status, reset.body], [400, { detail: 'Invalid or expired reset token', code: 'invalid_or_expired_reset_token' }], token);
        assert.deepEqual((await t.api.post('/auth/password/verify-reset-token', { token })).body, { valid: false });
      }
      assert.equal((await t.api.post('/auth/login/json', { email: user.email, password: PASSWORD })).status, 200);
    });

    it('forgot answers alike for unknown addresses and sends them nothing', async () => {
      const email = uniqueEmail('nobody');
      const forgot = await t.api.post('/auth/password/forgot', { email });
      assert.deepEqual([forgot.status, forgot.body], [200, { message: FORGOT_MESSAGE }]);
      // A known address asked after it is delivered; by then the unknown one would have been too.
      const known = await registerUser(t.api);
      await resetTokenFor(known.email);
      const rows = await queuedEmails(t.app.ctx.db, { to: email });
      assert.equal(rows.length, 0);
      assert.equal(smtp.messagesTo(email).length, 0);
    });

    it('a user without a password is told to use OAuth and gets no reset email', async () => {
      const user = await registerAndSignIn(t.api);
      await t.app.ctx.db.updateTable('users').set({ password_hash: null }).where('id', '=', user.id).execute();
      await t.app.ctx.db.insertInto('oauth_identities').values({ user_id: user.id, provider: 'google', subject: `g-${user.id}` }).execute();

      const change = await t.api.post('/auth/password/change', { current_password: PASSWORD, new_password: NEW_PASSWORD }, user.accessToken);
      assert.deepEqual([change.status, change.body], [400, { detail: { error: 'use_oauth_provider', providers: ['google'] }, code: 'use_oauth_provider' }]);

      const forgot = await t.api.post('/auth/password/forgot', { email: user.email });
      assert.deepEqual([forgot.status, forgot.body], [200, { message: FORGOT_MESSAGE }]);
      const known = await registerUser(t.api);
      await resetTokenFor(known.email);
      const tokens = await t.app.ctx.db.selectFrom('password_reset_tokens').select('id').where('user_id', '=', user.id).execute();
      assert.equal(tokens.length, 0);
      const resets = await queuedEmails(t.app.ctx.db, { to: user.email, template: 'reset_password' });
      assert.equal(resets.length, 0);
    });

    it('a password change ends every session, including other devices', async () => {
      const user = await registerAndSignIn(t.api);
      const other = await signIn(t.api, user.email);
      const earlierLink = await resetTokenFor(user.email);

      const change = await t.api.post('/auth/password/change', { current_password: PASSWORD, new_password: NEW_PASSWORD }, user.accessToken);
      assert.deepEqual([change.status, change.body], [200, { message: 'Password changed successfully' }]);

      for (const session of [other, user]) {
        const me = await t.api.get('/auth/me', session.accessToken);
        assert.deepEqual([me.status, me.body], [401, { detail: 'Could not validate credentials', code: 'not_authenticated' }]);
        const refresh = await t.api.post('/auth/refresh', { refresh_token: session.refreshToken });
        assert.equal(refresh.status, 401);
      }
      assert.equal((await t.api.post('/auth/login/json', { email: user.email, password: PASSWORD })).status, 401);
      assert.equal((await t.api.post('/auth/login/json', { email: user.email, password: NEW_PASSWORD })).status, 200);
      // A link asked for before the change no longer works.
      const reset = await t.api.post('/auth/password/reset', { token: earlierLink, new_password: 'sneaky replacement' });
      assert.deepEqual([reset.status, reset.body], [400, { detail: 'Reset token has already been used or has expired', code: 'reset_token_spent' }]);
      assert.ok((await auditActions(user.id)).includes('auth.password_change'));
    });

    it('change refuses a wrong current password and an unchanged one', async () => {
      const user = await registerAndSignIn(t.api);
      const wrong = await t.api.post('/auth/password/change', { current_password: 'not my password', new_password: NEW_PASSWORD }, user.accessToken);
      assert.deepEqual([wrong.status, wrong.body], [401, { detail: 'Current password is incorrect', code: 'current_password_incorrect' }]);
      const same = await t.api.post('/auth/password/change', { current_password: PASSWORD, new_password: PASSWORD }, user.accessToken);
      assert.deepEqual([same.status, same.body], [400, { detail: 'New password must be different from current password', code: 'password_unchanged' }]);
      const anonymous = await t.api.post('/auth/password/change', { current_password: PASSWORD, new_password: NEW_PASSWORD });
      assert.equal(anonymous.status, 401);
      assert.equal((await t.api.get('/auth/me', user.accessToken)).status, 200, 'nothing was revoked');
    });

    it('answers bad input with 422, never 500', async () => {
      const user = await registerAndSignIn(t.api);
      const cases: Array<[string, unknown, string?]> = [
        ['/auth/password/forgot', {}],
        ['/auth/password/forgot', { email: 'not-an-email' }],
        ['/auth/password/forgot', { email: 42 }],
        ['/auth/password/forgot', { email: `${'a'.repeat(250)}@example.com` }],
        ['/auth/password/verify-reset-token', {}],
        ['/auth/password/verify-reset-token', { token: 7 }],
        ['/auth/password/verify-reset-token', { token: 'x'.repeat(5000) }],
        ['/auth/password/reset', { token: 'x' }],
        ['/auth/password/reset', { token: 'x', new_password: 'short' }],
        ['/auth/password/reset', { token: 'x', new_password: 'p'.repeat(129) }],
        ['/auth/password/reset', { token: ['x'], new_password: NEW_PASSWORD }],
        ['/auth/password/reset', { token: 'x'.repeat(5000), new_password: NEW_PASSWORD }],
        ['/auth/password/change', { current_password: PASSWORD }, user.accessToken],
        ['/auth/password/change', { current_password: PASSWORD, new_password: 'short' }, user.accessToken],
        ['/auth/password/change', { current_password: PASSWORD, new_password: 12345678 }, user.accessToken],
        ['/auth/password/change', { current_password: '', new_password: NEW_PASSWORD }, user.accessToken],
      ];
      for (const [path, body, token] of cases) {
        const response = await t.api.post(path, body, token);
        assert.equal(response.status, 422, `${path} ${JSON.stringify(body).slice(0, 80)}: ${JSON.stringify(response.body)}`);
        assert.ok(Array.isArray(response.body.detail));
      }
      const notJson = await t.api.request('POST', '/auth/password/reset', { raw: '{"token":' });
      assert.equal(notJson.status, 422);
    });
  });
}

// Rate limits do not depend on the database: one run is enough.
describe('password and verification rate limits (per IP, per minute)', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp('pglite', { env: { RATE_LIMIT_ENABLED: 'true', OUTBOX_POLL_INTERVAL_MS: '100' } });
  });
  after(() => t.close());

  it('change 5, forgot 3, reset 5, send-verification 3; verify-reset-token and verify unlimited', async () => {
    const user = await registerAndSignIn(t.api);
    const limits: Array<[number, () => Promise<{ status: number; body: any; headers: Headers }>]> = [
      [5, () => t.api.post('/auth/password/change', { current_password: 'wrong password', new_password: NEW_PASSWORD }, user.accessToken)],
      [3, () => t.api.post('/auth/password/forgot', { email: uniqueEmail() })],
      [5, () => t.api.post('/auth/password/reset', { token: 'x', new_password: NEW_PASSWORD })],
      [3, () => t.api.post('/auth/email/send-verification', {}, user.accessToken)],
    ];
    for (const [max, call] of limits) {
      for (let i = 0; i < max; i++) assert.notEqual((await call()).status, 429);
      const limited = await call();
      assert.deepEqual([limited.status, limited.body], [429, { detail: `Rate limit exceeded: ${max} per 1 minute`, code: 'rate_limited' }]);
      assert.ok(limited.headers.get('retry-after'));
    }
    for (let i = 0; i < 8; i++) {
      assert.equal((await t.api.post('/auth/password/verify-reset-token', { token: 'x' })).status, 200);
      assert.equal((await t.api.post('/auth/email/verify', { token: 'x' })).status, 400);
    }
  });
});
