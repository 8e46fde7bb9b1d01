// Account deletion, data export and ownership transfer: DELETE /auth/me, GET /auth/me/export,
// POST /accounts/me/transfer-ownership, DELETE /admin/users/{id}.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { sql } from 'kysely';
import { ensureAdmin } from '../src/modules/admin/create-admin.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { DATABASE_KINDS } from './helpers/database.js';
import { PASSWORD, registerAndSignIn, signIn, uniqueEmail, type SignedInUser } from './helpers/fixtures.js';

for (const kind of DATABASE_KINDS) {
  describe(`account lifecycle (${kind})`, () => {
    let t: TestApp;
    let admin: SignedInUser;
    before(async () => {
      t = await startTestApp(kind);
      const email = uniqueEmail('admin');
      const { user } = await ensureAdmin(t.app.ctx, { email, password: PASSWORD, name: 'Ada Admin' });
      admin = { id: user.id, email, password: PASSWORD, ...(await signIn(t.api, email)) };
    });
    after(() => t.close());
    const db = () => t.app.ctx.db;

    const deleteMe = (token: string, json?: Record<string, unknown>) =>
      t.api.request('DELETE', '/auth/me', { token, ...(json ? { json } : {}) });

    const events = async (type: string) =>
      (await sql<{ data: Record<string, unknown> }>`
        SELECT payload->'data' AS data FROM jobs WHERE kind = 'event' AND payload->>'type' = ${type} ORDER BY created_at`.execute(db())).rows.map((r) => r.data);

    /** An owner with one member who joined by invite. */
    async function accountWithMember(): Promise<{ owner: SignedInUser; member: SignedInUser; accountId: string }> {
      const owner = await registerAndSignIn(t.api);
      const memberEmail = uniqueEmail('member');
      const invite = await t.api.post('/accounts/me/invites', { email: memberEmail, role: 'member' }, owner.accessToken);
      assert.equal(invite.status, 201);
      const member = await registerAndSignIn(t.api, { email: memberEmail, account_invite_code: invite.body.code });
      const accountId = (await t.api.get('/accounts/me', owner.accessToken)).body.id;
      return { owner, member, accountId };
    }

    it('deletes the caller: password required and checked; every token 401 at once; the account and subscription go; audit keeps the id, loses the email; events queued; the email registers again', async () => {
      const email = uniqueEmail('leaver');
      // A failed sign-in before the address was registered records it in the audit log.
      await t.api.post('/auth/login/json', { email, password: 'not the password' });
      const user = await registerAndSignIn(t.api, { email });
      const second = await signIn(t.api, email);
      const accountId = (await t.api.get('/accounts/me', user.accessToken)).body.id;

      assert.deepEqual(await deleteMe(user.accessToken).then((r) => [r.status, r.body]), [400, { detail: 'Current password is required', code: 'current_password_required' }]);
      assert.deepEqual(await deleteMe(user.accessToken, {}).then((r) => [r.status, r.body]), [400, { detail: 'Current password is required', code: 'current_password_required' }]);
      assert.deepEqual(await deleteMe(user.accessToken, { password: 'wrong password' }).then((r) => [r.status, r.body]), [401, { detail: 'Current password is incorrect', code: 'current_password_incorrect' }]);
      assert.equal((await deleteMe(user.accessToken, { password: 42 })).status, 422);
      assert.equal((await t.api.get('/auth/me', user.accessToken)).status, 200, 'still there after refusals');

      const deleted = await deleteMe(user.accessToken, { password: PASSWORD });
      assert.equal(deleted.status, 204, JSON.stringify(deleted.body));
      for (const token of [user.accessToken, second.accessToken]) assert.equal((await t.api.get('/auth/me', token)).status, 401);
      for (const token of [user.refreshToken, second.refreshToken]) assert.equal((await t.api.post('/auth/refresh', { refresh_token: token })).status, 401);

      assert.equal(await db().selectFrom('users').select('id').where('id', '=', user.id).executeTakeFirst(), undefined);
      assert.equal(await db().selectFrom('accounts').select('id').where('id', '=', accountId).executeTakeFirst(), undefined);
      assert.equal(await db().selectFrom('subscriptions').select('id').where('account_id', '=', accountId).executeTakeFirst(), undefined);
      assert.equal((await db().selectFrom('sessions').select('id').where('user_id', '=', user.id).execute()).length, 0);

      const audit = await db().selectFrom('audit_logs').selectAll().where('user_id', '=', user.id).orderBy('id').execute();
      assert.ok(audit.some((row) => row.action === 'auth.register') && audit.some((row) => row.action === 'auth.account_deleted'));
      const allAudit = JSON.stringify(await db().selectFrom('audit_logs').selectAll().execute());
      assert.equal(allAudit.includes(email), false, 'the email left the audit log');

      assert.deepEqual((await events('user.deleted')).find((e) => e.id === user.id), { id: user.id, email, account_id: accountId });
      const revoked = (await events('session.revoked')).filter((e) => e.user_id === user.id);
      assert.equal(revoked.length, 2);
      assert.ok(revoked.every((e) => e.reason === 'user_deleted'));

      const again = await registerAndSignIn(t.api, { email });
      assert.notEqual(again.id, user.id);
      assert.equal((await t.api.get('/auth/me', again.accessToken)).body.email, email);
    });

    it('a user without a password deletes themself with the bearer token alone', async () => {
      const user = await registerAndSignIn(t.api);
      await db().updateTable('users').set({ password_hash: null }).where('id', '=', user.id).execute();
      assert.equal((await deleteMe(user.accessToken)).status, 204);
      assert.equal((await t.api.get('/auth/me', user.accessToken)).status, 401);
    });

    it('refuses an owner with members (409) and succeeds after a transfer; the old owner becomes admin', async () => {
      const { owner, member, accountId } = await accountWithMember();
      const refused = await deleteMe(owner.accessToken, { password: PASSWORD });
      assert.deepEqual([refused.status, refused.body], [409, { detail: { error: 'transfer_ownership_first' }, code: 'transfer_ownership_first' }]);
      assert.equal((await t.api.request('DELETE', `/admin/users/${owner.id}`, { token: admin.accessToken })).status, 409);

      assert.equal((await t.api.post('/accounts/me/transfer-ownership', { user_id: owner.id }, member.accessToken)).status, 403);
      assert.deepEqual((await t.api.post('/accounts/me/transfer-ownership', { user_id: randomUUID() }, owner.accessToken)).body, { detail: 'User not found', code: 'user_not_found' });
      assert.equal((await t.api.post('/accounts/me/transfer-ownership', { user_id: admin.id }, owner.accessToken)).status, 404, 'not a member');
      assert.equal((await t.api.post('/accounts/me/transfer-ownership', { user_id: owner.id }, owner.accessToken)).status, 400);
      assert.equal((await t.api.post('/accounts/me/transfer-ownership', { user_id: 'x' }, owner.accessToken)).status, 422);

      const transferred = await t.api.post('/accounts/me/transfer-ownership', { user_id: member.id }, owner.accessToken);
      assert.equal(transferred.status, 200);
      assert.equal(transferred.body.id, accountId);
      assert.equal(transferred.body.owner_id, member.id);
      assert.equal((await t.api.get('/auth/me', owner.accessToken)).body.account_role, 'admin');
      assert.equal((await t.api.get('/auth/me', member.accessToken)).body.account_role, 'owner');
      assert.deepEqual((await events('account.ownership_transferred')).find((e) => e.account_id === accountId), {
        account_id: accountId, previous_owner_id: owner.id, new_owner_id: member.id,
      });

      assert.equal((await deleteMe(owner.accessToken, { password: PASSWORD })).status, 204);
      const account = await t.api.get('/accounts/me', member.accessToken);
      assert.deepEqual([account.body.id, account.body.owner_id], [accountId, member.id]);
      assert.ok(account.body.subscription, 'the account keeps its subscription');
      assert.deepEqual((await t.api.get('/accounts/me/members', member.accessToken)).body.map((u: { id: string }) => u.id), [member.id]);
    });

    it('a transfer racing the deletion of either party leaves the account with exactly one existing owner', async () => {
      for (let round = 0; round < 3; round++) {
        const { owner, member, accountId } = await accountWithMember();
        const [transfer, deletion] = await Promise.all([
          t.api.post('/accounts/me/transfer-ownership', { user_id: member.id }, owner.accessToken),
          round % 2 === 0 ? deleteMe(member.accessToken, { password: PASSWORD }) : deleteMe(owner.accessToken, { password: PASSWORD }),
        ]);
        const serverError = () => t.logs.filter((line) => line.includes('"level":50')).slice(-1).join('').slice(0, 2000);
        assert.ok([200, 404].includes(transfer.status), `transfer ${transfer.status} ${JSON.stringify(transfer.body)} ${serverError()}`);
        assert.ok([204, 409].includes(deletion.status), `deletion ${deletion.status} ${JSON.stringify(deletion.body)} ${serverError()}`);
        const owners = await db().selectFrom('users').select('id').where('account_id', '=', accountId).where('account_role', '=', 'owner').execute();
        const row = await db().selectFrom('accounts').select('owner_id').where('id', '=', accountId).executeTakeFirstOrThrow();
        assert.deepEqual(owners.map((o) => o.id), [row.owner_id]);
      }
    });

    it('exports the user\'s data as a JSON attachment, with no hash, token or secret in it', async () => {
      const user = await registerAndSignIn(t.api);
      const other = await signIn(t.api, user.email);
      await db().insertInto('oauth_identities').values({ user_id: user.id, provider: 'google', subject: `g-${user.id}`, email: user.email }).execute();
      await t.api.post('/auth/password/forgot', { email: user.email });
      const refreshed = await t.api.post('/auth/refresh', { refresh_token: other.refreshToken });
      assert.equal(refreshed.status, 200);

      const res = await t.api.get('/auth/me/export', user.accessToken);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-disposition') ?? '', /^attachment; filename="keyhold-export-[0-9a-f-]+\.json"$/);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      const body = res.body;
      assert.deepEqual(Object.keys(body).sort(), ['account', 'audit_events', 'identities', 'passkeys', 'sessions', 'user']);
      assert.equal(body.user.id, user.id);
      assert.equal(body.user.email, user.email);
      assert.equal(body.account.account_role, 'owner');
      assert.equal(body.account.subscription.plan, 'pro');
      assert.equal(body.sessions.length, 2);
      assert.ok(body.sessions.every((s: Record<string, unknown>) => 'revoked_at' in s && !('current' in s)));
      assert.deepEqual(body.identities.map((i: { provider: string }) => i.provider), ['google']);
      assert.deepEqual(body.passkeys, []);
      assert.ok(body.audit_events.some((e: { action: string }) => e.action === 'auth.register'));
      assert.ok(body.audit_events.every((e: { user_id: string }) => e.user_id === user.id));

      // Every secret the test made or the database holds for this user.
      const secrets: string[] = [];
      const tokens = [user.accessToken, user.refreshToken, other.accessToken, other.refreshToken, refreshed.body.access_token, refreshed.body.refresh_token];
      secrets.push(...tokens, ...tokens.map((token) => decodeJwt(token).jti as string));
      const row = await db().selectFrom('users').select('password_hash').where('id', '=', user.id).executeTakeFirstOrThrow();
      secrets.push(row.password_hash!);
      for (const table of ['refresh_tokens', 'password_reset_tokens', 'email_verification_tokens'] as const) {
        const hashes = await db().selectFrom(table).select('token_hash').where('user_id', '=', user.id).execute();
        secrets.push(...hashes.map((h) => h.token_hash));
      }
      assert.ok((await db().selectFrom('password_reset_tokens').select('id').where('user_id', '=', user.id).execute()).length > 0);
      // The raw reset and verification tokens exist only in the queued emails' links.
      const mails = await sql<{ payload: string }>`SELECT payload::text AS payload FROM jobs WHERE kind = 'email' AND payload->>'to' = ${user.email}`.execute(db());
      for (const mail of mails.rows) secrets.push(...(mail.payload.match(/token=([A-Za-z0-9._-]{20,})/g) ?? []).map((m) => m.slice('token='.length)));
      assert.ok(secrets.length >= 16, String(secrets.length));
      const text = JSON.stringify(body);
      for (const secret of secrets) assert.equal(text.includes(secret), false, `a secret in the export: ${secret.slice(0, 12)}…`);

      assert.ok((await db().selectFrom('audit_logs').select('id').where('user_id', '=', user.id).where('action', '=', 'auth.data_exported').execute()).length === 1);
      assert.equal((await t.api.get('/auth/me/export')).status, 401);
    });

    it('DELETE /admin/users/{id}: 204 and the user is gone; 404 unknown; 403 for non-admins', async () => {
      const user = await registerAndSignIn(t.api);
      const bystander = await registerAndSignIn(t.api);
      assert.equal((await t.api.request('DELETE', `/admin/users/${user.id}`, { token: bystander.accessToken })).status, 403);
      assert.equal((await t.api.request('DELETE', `/admin/users/${randomUUID()}`, { token: admin.accessToken })).status, 404);
      assert.equal((await t.api.request('DELETE', '/admin/users/nope', { token: admin.accessToken })).status, 422);
      const res = await t.api.request('DELETE', `/admin/users/${user.id}`, { token: admin.accessToken });
      assert.equal(res.status, 204);
      assert.equal((await t.api.get('/auth/me', user.accessToken)).status, 401);
      assert.equal((await t.api.post('/auth/refresh', { refresh_token: user.refreshToken })).status, 401);
      const audit = await db().selectFrom('audit_logs').selectAll().where('action', '=', 'admin.user_deleted').where('resource_id', '=', user.id).execute();
      assert.equal(audit.length, 1);
      assert.equal(audit[0]!.user_id, admin.id);
      assert.equal((await t.api.get('/auth/me', bystander.accessToken)).status, 200);
    });
  });
}
