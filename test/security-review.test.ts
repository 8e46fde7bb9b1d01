// The findings of 0.2's black-box security review (issue 24), each with the test that failed
// against 0.2: an MFA account locked for good by abandoned second steps, factors added or
// removed from a password-only session, an admin deleting themself, passkey deletion without
// re-authentication, sessions "newest first" only to the second; and the passkey rules a
// deliberately broken copy of the code got past (a registration challenge of another user, two
// sign-ins racing with one credential on PostgreSQL).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { ensureAdmin } from '../src/modules/admin/create-admin.js';
import { MAX_FAILED_LOGINS } from '../src/modules/lockout/lockout.repo.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { SoftwareAuthenticator } from './helpers/authenticator.js';
import { FakeClock } from './helpers/clock.js';
import { DATABASE_KINDS } from './helpers/database.js';
import { PASSWORD, registerAndSignIn, signIn, uniqueEmail, type SignedInUser } from './helpers/fixtures.js';
import { holdLock } from './helpers/locks.js';
import { codeAt, enrolTotp, passwordFirstFactor } from './helpers/mfa.js';

// TEST_ENV's FRONTEND_URL: the default RP ID and origin.
const ORIGIN = 'http://frontend.test';
const STEP_UP = { detail: 'A second factor is required for this change', code: 'second_factor_required' };

for (const kind of DATABASE_KINDS) {
  describe(`security review of 0.2 (${kind})`, () => {
    let t: TestApp;
    const clock = new FakeClock(new Date('2026-04-01T09:00:05Z'));
    before(async () => {
      t = await startTestApp(kind, { clock, env: { DATABASE_POOL_SIZE: '10' } });
    });
    after(() => t.close());
    const db = () => t.app.ctx.db;

    async function registerPasskey(token: string, authenticator = new SoftwareAuthenticator(ORIGIN), extra: Record<string, unknown> = {}) {
      const options = await t.api.post('/auth/passkeys/register/options', extra, token);
      if (options.status !== 200) return { options, verified: options, authenticator };
      const verified = await t.api.post('/auth/passkeys/register/verify', { response: authenticator.register(options.body), name: 'Key' }, token);
      return { options, verified, authenticator };
    }

    async function passkeyLogin(authenticator: SoftwareAuthenticator, knobs = {}) {
      const options = await t.api.post('/auth/passkeys/login/options');
      assert.equal(options.status, 200);
      return t.api.post('/auth/passkeys/login/verify', { challenge_id: options.body.challenge_id, response: authenticator.assert(options.body.options, knobs) });
    }

    const deletePasskey = (token: string, id: string, json?: Record<string, unknown>) =>
      t.api.request('DELETE', `/auth/passkeys/${id}`, { token, ...(json ? { json } : {}) });

    async function lockState(userId: string) {
      return db().selectFrom('users').select(['failed_login_count', 'locked_until']).where('id', '=', userId).executeTakeFirstOrThrow();
    }

    /** The rule of finding 2: an exhausted guess count always carries a lock end in the future. */
    async function assertNeverLockedForGood(userId: string) {
      const row = await lockState(userId);
      if (row.failed_login_count >= MAX_FAILED_LOGINS) {
        assert.ok(row.locked_until && row.locked_until > clock.now(), `count ${row.failed_login_count} exhausted with no lock end`);
      }
    }

    it('finding 2: a right password never locks an MFA account; an exhausted count always carries a lock end', async () => {
      const user = await registerAndSignIn(t.api);
      const { secret } = await enrolTotp(t.api, clock, user.accessToken);
      // Abandoning the second step, more times than there are guesses: each sign-in still works.
      for (let i = 0; i < MAX_FAILED_LOGINS + 2; i++) {
        await passwordFirstFactor(t.api, user.email, PASSWORD);
        await assertNeverLockedForGood(user.id);
      }
      assert.equal((await lockState(user.id)).failed_login_count, 0, 'a right password gives back the guess it reserved');

      // Wrong codes do count, and the tenth locks the account with an end: 1 minute.
      for (let i = 0; i < MAX_FAILED_LOGINS; i++) {
        const mfaToken = await passwordFirstFactor(t.api, user.email, PASSWORD);
        const wrong = await t.api.post('/auth/mfa/verify', { mfa_token: mfaToken, code: codeAt(secret, clock, 5) });
        assert.equal(wrong.status, 401);
        await assertNeverLockedForGood(user.id);
      }
      const locked = await lockState(user.id);
      assert.ok(locked.locked_until, 'the tenth wrong code locks');
      assert.equal(locked.locked_until.getTime() - clock.now().getTime(), 60_000);
      assert.equal((await t.api.post('/auth/login/json', { email: user.email, password: PASSWORD })).status, 401);
      clock.advanceSeconds(61);
      const mfaToken = await passwordFirstFactor(t.api, user.email, PASSWORD);
      const passed = await t.api.post('/auth/mfa/verify', { mfa_token: mfaToken, code: codeAt(secret, clock) });
      assert.equal(passed.status, 200, JSON.stringify(passed.body));
      clock.advanceSeconds(30);
    });

    it('finding 3: enabling MFA ends the other aal1 sessions; an aal1 session adds or removes a passkey only with a fresh code', async () => {
      const user = await registerAndSignIn(t.api); // session A: aal1, from before enrolment
      const enroller = await signIn(t.api, user.email); // session B: aal1, enables TOTP
      // Before enrolment a passkey is added from an aal1 session as in 0.2, and signs in at aal2.
      const first = await registerPasskey(user.accessToken);
      assert.equal(first.verified.status, 201, JSON.stringify(first.verified.body));
      const passkeySession = await passkeyLogin(first.authenticator);
      assert.equal(decodeJwt(passkeySession.body.access_token).aal, 'aal2');

      const { secret, recoveryCodes } = await enrolTotp(t.api, clock, enroller.accessToken);
      // Session A is over, its refresh token too; the aal2 session and the enabling one live on.
      assert.equal((await t.api.get('/auth/me', user.accessToken)).status, 401);
      assert.equal((await t.api.post('/auth/refresh', { refresh_token: user.refreshToken })).status, 401);
      assert.equal((await t.api.get('/auth/me', passkeySession.body.access_token)).status, 200);
      assert.equal((await t.api.get('/auth/me', enroller.accessToken)).status, 200);
      const revokedEvents = await db().selectFrom('jobs').select('payload').where('kind', '=', 'event').execute();
      assert.ok(revokedEvents.some((job) => (job.payload as any).type === 'session.revoked' && (job.payload as any).data.reason === 'mfa_enabled'));

      // The attack: a password-only session registers a passkey, then signs in with it at aal2.
      // Refused at the first step, before the browser makes a credential.
      const squat = await registerPasskey(enroller.accessToken);
      assert.deepEqual([squat.options.status, squat.options.body], [403, STEP_UP]);
      assert.equal((await t.api.get('/auth/passkeys', enroller.accessToken)).body.length, 1);
      // Removing one from that session is refused the same way.
      const unproven = await deletePasskey(enroller.accessToken, first.verified.body.id);
      assert.deepEqual([unproven.status, unproven.body], [403, STEP_UP]);
      // A wrong code is a wrong code (400, counted).
      const wrong = await registerPasskey(enroller.accessToken, undefined, { code: codeAt(secret, clock, 5) });
      assert.deepEqual([wrong.options.status, wrong.options.body], [400, { detail: 'Invalid MFA code', code: 'invalid_mfa_code' }]);

      // With a fresh code (TOTP, or a recovery code), the aal1 session may.
      const added = await registerPasskey(enroller.accessToken, undefined, { code: codeAt(secret, clock) });
      assert.equal(added.verified.status, 201, JSON.stringify(added.verified.body));
      const removed = await deletePasskey(enroller.accessToken, added.verified.body.id, { code: recoveryCodes[0] });
      assert.equal(removed.status, 200, JSON.stringify(removed.body));
      clock.advanceSeconds(30);

      // An aal2 session (password and TOTP) needs nothing more.
      const mfaToken = await passwordFirstFactor(t.api, user.email, PASSWORD);
      const aal2 = await t.api.post('/auth/mfa/verify', { mfa_token: mfaToken, code: codeAt(secret, clock) });
      assert.equal(aal2.status, 200);
      clock.advanceSeconds(30);
      const fromAal2 = await registerPasskey(aal2.body.access_token);
      assert.equal(fromAal2.verified.status, 201, JSON.stringify(fromAal2.verified.body));
      assert.equal((await deletePasskey(aal2.body.access_token, fromAal2.verified.body.id)).status, 200);
      // So does the aal2 passkey session.
      assert.equal((await deletePasskey(passkeySession.body.access_token, first.verified.body.id)).status, 200);
    });

    it('finding 3: a registration challenge issued before enrolment is refused to an aal1 session after it', async () => {
      const user = await registerAndSignIn(t.api);
      const options = await t.api.post('/auth/passkeys/register/options', {}, user.accessToken);
      assert.equal(options.status, 200);
      await enrolTotp(t.api, clock, user.accessToken);
      const late = await t.api.post('/auth/passkeys/register/verify', { response: new SoftwareAuthenticator(ORIGIN).register(options.body) }, user.accessToken);
      assert.deepEqual([late.status, late.body], [403, STEP_UP]);
    });

    it('a user without MFA adds and removes passkeys from an aal1 session as before', async () => {
      const user = await registerAndSignIn(t.api);
      const { verified } = await registerPasskey(user.accessToken);
      assert.equal(verified.status, 201);
      assert.equal((await t.api.delete(`/auth/passkeys/${verified.body.id}`, user.accessToken)).status, 200);
    });

    it('passkeys: a registration challenge issued to another user is refused', async () => {
      const victim = await registerAndSignIn(t.api);
      const attacker = await registerAndSignIn(t.api);
      const options = await t.api.post('/auth/passkeys/register/options', {}, victim.accessToken);
      assert.equal(options.status, 200);
      const response = new SoftwareAuthenticator(ORIGIN).register(options.body);
      const stolen = await t.api.post('/auth/passkeys/register/verify', { response }, attacker.accessToken);
      assert.deepEqual([stolen.status, stolen.body], [400, { detail: 'Passkey registration failed', code: 'passkey_registration_failed' }]);
      assert.deepEqual((await t.api.get('/auth/passkeys', attacker.accessToken)).body, []);
      // The challenge was its owner's to spend: refused to the other user, it still works for them.
      const own = await t.api.post('/auth/passkeys/register/verify', { response }, victim.accessToken);
      assert.equal(own.status, 201, JSON.stringify(own.body));
    });

    it('an admin cannot delete their own account through DELETE /admin/users/{id}', async () => {
      const email = uniqueEmail('admin');
      const { user } = await ensureAdmin(t.app.ctx, { email, password: PASSWORD, name: 'Ada Admin' });
      const admin: SignedInUser = { id: user.id, email, password: PASSWORD, ...(await signIn(t.api, email)) };
      const refused = await t.api.request('DELETE', `/admin/users/${admin.id}`, { token: admin.accessToken });
      assert.deepEqual([refused.status, refused.body], [400, { detail: 'You cannot delete your own account', code: 'cannot_delete_self' }]);
      assert.equal((await t.api.get('/auth/me', admin.accessToken)).status, 200);
    });

    it('the webhook URL guard refuses ::/96 and every IPv6 form that embeds a private or loopback IPv4 address', async () => {
      const email = uniqueEmail('admin');
      const { user } = await ensureAdmin(t.app.ctx, { email, password: PASSWORD, name: 'Wes Webhooks' });
      const { accessToken } = await signIn(t.api, email);
      const refused = [
        '[::127.0.0.1]', // IPv4-compatible (::7f00:1), the form the review got through
        '[::7f00:1]',
        '[::a00:1]', // ::10.0.0.1
        '[::]',
        '[::8.8.8.8]', // anything in ::/96: deprecated, and never a real public address
        '[::ffff:127.0.0.1]', // IPv4-mapped
        '[::ffff:0:7f00:1]', // IPv4-translated (RFC 6145)
        '[64:ff9b::7f00:1]', // NAT64 (RFC 6052)
        '[64:ff9b:1::a00:1]', // local-use NAT64 (RFC 8215)
        '[2002:7f00:1::]', // 6to4 of 127.0.0.1
        '[2002:a00:1::]', // 6to4 of 10.0.0.1
        '[2001:0:4136:e378:8000:63bf:80ff:fffe]', // Teredo (client 127.0.0.1)
      ];
      for (const host of refused) {
        const response = await t.api.post('/admin/webhooks', { url: `https://${host}/hook` }, accessToken);
        assert.equal(response.status, 422, `${host}: ${JSON.stringify(response.body)}`);
      }
      // A public IPv6 address is still accepted.
      assert.equal((await t.api.post('/admin/webhooks', { url: 'https://[2606:4700:4700::1111]/hook' }, accessToken)).status, 201);
      assert.equal(user.role, 'admin');
    });

    it('import refuses hashes below a floor, with the line number and reason', async () => {
      const salt = 'c29tZXNhbHRzb21lc2FsdA';
      const digest = 'aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g';
      const pbkdf2Digest = Buffer.alloc(32, 7).toString('base64');
      const lines = [
        { email: uniqueEmail('ok'), name: 'Fine', password_hash: `$argon2id$v=19$m=19456,t=2,p=1$${salt}$${digest}` },
        { email: uniqueEmail('m1'), name: 'Tiny memory', password_hash: `$argon2id$v=19$m=1,t=1,p=1$${salt}$${digest}` },
        { email: uniqueEmail('t1'), name: 'One pass, little memory', password_hash: `$argon2id$v=19$m=512,t=1,p=1$${salt}$${digest}` },
        { email: uniqueEmail('pb1'), name: 'One iteration', password_hash: `pbkdf2_sha256$1$somesalt$${pbkdf2Digest}` },
        { email: uniqueEmail('pbsalt'), name: 'Empty salt', password_hash: `$pbkdf2-sha256$29000$$${pbkdf2Digest.replace(/=$/, '').replace(/\+/g, '.')}` },
        { email: uniqueEmail('bc4'), name: 'Cheap bcrypt', password_hash: `$2b$04$${'a'.repeat(53)}` },
      ];
      const errors: Array<{ line: number; reason: string }> = [];
      const { importUsers } = await import('../src/modules/import-export/import.service.js');
      const { Readable } = await import('node:stream');
      const summary = await importUsers(t.app.ctx, {
        input: Readable.from(lines.map((line) => `${JSON.stringify(line)}\n`).join('')),
        options: { dryRun: true, onLineError: (line, reason) => errors.push({ line, reason }) },
        meta: null,
      });
      assert.equal(summary.imported, 1, JSON.stringify(errors));
      assert.deepEqual(errors.map((e) => e.line), [2, 3, 4, 5, 6]);
      assert.match(errors[0]!.reason, /^password_hash: argon2 memory m=1 KiB is below the floor of 512 KiB/);
      assert.match(errors[1]!.reason, /^password_hash: argon2 cost m=512,t=1 is below the floor/);
      assert.match(errors[2]!.reason, /^password_hash: pbkdf2-sha256 iterations 1 are below the floor of 1000/);
      assert.match(errors[3]!.reason, /^password_hash: pbkdf2-sha256 salt is empty/);
      assert.match(errors[4]!.reason, /^password_hash: bcrypt cost 4 is below the floor of 8/);
    });

    it('GET /auth/sessions is newest first to the sub-second', async () => {
      const user = await registerAndSignIn(t.api);
      // Six more sign-ins within one second, 150 ms apart.
      clock.advanceSeconds(1 - (clock.now().getTime() % 1000) / 1000);
      const tokens: string[] = [];
      for (let i = 0; i < 6; i++) {
        tokens.push((await signIn(t.api, user.email)).accessToken);
        clock.advanceSeconds(0.15);
      }
      const listed = await t.api.get('/auth/sessions', tokens[5]);
      const sids = tokens.map((token) => decodeJwt(token).sid as string).reverse();
      assert.deepEqual(listed.body.slice(0, 6).map((s: { id: string }) => s.id), sids);
      const starts = listed.body.slice(0, 6).map((s: { created_at: string }) => Date.parse(s.created_at));
      assert.equal(starts[0] - starts[5], 750, 'each start kept to the millisecond');
    });

    it('passkeys on PostgreSQL: two sign-ins racing with one credential: exactly one succeeds, the counter never goes back', { skip: kind !== 'postgres' && 'needs PostgreSQL row locks' }, async () => {
      const user = await registerAndSignIn(t.api);
      const { verified, authenticator } = await registerPasskey(user.accessToken);
      assert.equal(verified.status, 201);
      // Two assertions a cloned authenticator made with the same counter value.
      const challenges = await Promise.all([t.api.post('/auth/passkeys/login/options'), t.api.post('/auth/passkeys/login/options')]);
      const responses = challenges.map((c) => authenticator.assert(c.body.options, { counter: 7 }));
      const lock = await holdLock(t.database.url!, 'SELECT id FROM passkeys WHERE id = $1 FOR UPDATE', [verified.body.id]);
      let results;
      try {
        const attempts = challenges.map((c, i) => t.api.post('/auth/passkeys/login/verify', { challenge_id: c.body.challenge_id, response: responses[i] }));
        await lock.waitForBlocked(2);
        await lock.release();
        results = await Promise.all(attempts);
      } finally {
        await lock.release();
      }
      assert.deepEqual(results.map((r) => r.status).sort(), [200, 401]);
      const stored = await db().selectFrom('passkeys').select('counter').where('id', '=', verified.body.id).executeTakeFirstOrThrow();
      assert.equal(Number(stored.counter), 7);
      // An older counter afterwards is refused and leaves it where it is.
      assert.equal((await passkeyLogin(authenticator, { counter: 6 })).status, 401);
      assert.equal(Number((await db().selectFrom('passkeys').select('counter').where('id', '=', verified.body.id).executeTakeFirstOrThrow()).counter), 7);
    });
  });
}
