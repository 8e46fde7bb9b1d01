import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestApp } from './helpers/app.js';
import { DATABASE_KINDS } from './helpers/database.js';
import { registerAndSignIn, signIn, uniqueEmail, PASSWORD, type SignedInUser } from './helpers/fixtures.js';
import { queuedEmails } from './helpers/jobs.js';

for (const kind of DATABASE_KINDS) {
  describe(`accounts and invites (${kind})`, () => {
    let t: TestApp;
    let owner: SignedInUser;

    before(async () => {
      t = await startTestApp(kind);
      owner = await registerAndSignIn(t.api, { name: 'Olivia Owner' });
    });
    after(() => t.close());

    const invite = (by: SignedInUser, email: string, role: 'admin' | 'member' = 'member') =>
      t.api.post('/accounts/me/invites', { email, role }, by.accessToken);

    /** Invites a new address into `by`'s account and registers it with the code. */
    async function join(by: SignedInUser, role: 'admin' | 'member'): Promise<SignedInUser> {
      const email = uniqueEmail(role);
      const invited = await invite(by, email, role);
      assert.equal(invited.status, 201, JSON.stringify(invited.body));
      return registerAndSignIn(t.api, { email, account_invite_code: invited.body.code });
    }

    const auditRows = (action: string, resourceId: string) =>
      t.app.ctx.db.selectFrom('audit_logs').selectAll().where('action', '=', action).where('resource_id', '=', resourceId).execute();

    const inviteCount = async () =>
      Number((await t.app.ctx.db.selectFrom('account_invites').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);

    it('GET /accounts/me returns the account and its subscription', async () => {
      const me = await t.api.get('/accounts/me', owner.accessToken);
      assert.equal(me.status, 200, JSON.stringify(me.body));
      assert.equal(me.body.name, "Olivia Owner's Account");
      assert.equal(me.body.owner_id, owner.id);
      assert.match(me.body.display_code, /^[A-Z0-9]{8}$/);
      assert.equal(me.body.subscription.plan, 'pro');
      assert.equal(me.body.subscription.status, 'trialing');
      assert.ok(Date.parse(me.body.subscription.current_period_end) > Date.parse(me.body.subscription.current_period_start));
    });

    it('answers 401 to anonymous callers on every account route', async () => {
      const id = randomUUID();
      for (const [method, path] of [
        ['GET', '/accounts/me'], ['GET', '/accounts/me/members'], ['PATCH', `/accounts/me/members/${id}`],
        ['DELETE', `/accounts/me/members/${id}`], ['POST', '/accounts/me/invites'], ['GET', '/accounts/me/invites'],
        ['DELETE', `/accounts/me/invites/${id}`],
      ] as const) {
        const response = await t.api.request(method, path, method === 'GET' || method === 'DELETE' ? {} : { json: {} });
        assert.equal(response.status, 401, `${method} ${path}`);
        assert.deepEqual(response.body, { detail: 'Could not validate credentials', code: 'not_authenticated' });
      }
    });

    it('invites by email; registering with the code joins the account with the role', async () => {
      const email = uniqueEmail('Invitee');
      const created = await invite(owner, email.toUpperCase(), 'member');
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.deepEqual(Object.keys(created.body).sort(), ['code', 'created_at', 'email', 'expires_at', 'id', 'role']);
      assert.equal(created.body.email, email.toLowerCase());
      assert.equal(created.body.role, 'member');
      assert.ok(created.body.code.length >= 32, 'the code is long and random');
      const days = (Date.parse(created.body.expires_at) - Date.parse(created.body.created_at)) / 86_400_000;
      assert.equal(Math.round(days), 7);

      const mail = await queuedEmails(t.app.ctx.db, { to: email.toLowerCase() });
      assert.equal(mail.length, 1);
      assert.equal(mail[0]!.template, 'account_invite');
      assert.ok(mail[0]!.text!.includes(`http://frontend.test/register?account_invite_code=${created.body.code}`));
      const [audit] = await auditRows('account.invite_created', created.body.id);
      assert.equal(audit?.user_id, owner.id);
      assert.ok(!JSON.stringify(audit?.details).includes(created.body.code), 'no invite code in the audit log');

      const listed = await t.api.get('/accounts/me/invites', owner.accessToken);
      assert.equal(listed.status, 200);
      assert.ok(listed.body.some((row: { id: string }) => row.id === created.body.id));

      const joined = await registerAndSignIn(t.api, { email, account_invite_code: created.body.code });
      const me = await t.api.get('/auth/me', joined.accessToken);
      assert.equal(me.body.account_id, (await t.api.get('/accounts/me', owner.accessToken)).body.id);
      assert.equal(me.body.account_role, 'member');

      const members = await t.api.get('/accounts/me/members', joined.accessToken);
      assert.equal(members.status, 200);
      const ids = members.body.map((m: { id: string }) => m.id);
      assert.ok(ids.includes(owner.id) && ids.includes(joined.id));
      assert.ok(members.body.every((m: Record<string, unknown>) => !('password_hash' in m)));

      // Spent: no longer listed, cannot be revoked or used again.
      const after = await t.api.get('/accounts/me/invites', owner.accessToken);
      assert.ok(!after.body.some((row: { id: string }) => row.id === created.body.id));
      assert.equal((await t.api.delete(`/accounts/me/invites/${created.body.id}`, owner.accessToken)).status, 404);
      const again = await t.api.post('/auth/register', { email: uniqueEmail(), password: PASSWORD, name: 'X', account_invite_code: created.body.code });
      assert.equal(again.status, 400);
      assert.deepEqual(again.body, { detail: 'Account invite code has already been used', code: 'account_invite_code_used' });
    });

    it('an admin invite joins as admin; the invite is bound to its email', async () => {
      const email = uniqueEmail('boss');
      const created = await invite(owner, email, 'admin');
      const wrong = await t.api.post('/auth/register', { email: uniqueEmail(), password: PASSWORD, name: 'X', account_invite_code: created.body.code });
      assert.equal(wrong.status, 400);
      assert.deepEqual(wrong.body.detail, { error: 'invite_email_mismatch' });
      const joined = await registerAndSignIn(t.api, { email, account_invite_code: created.body.code });
      assert.equal((await t.api.get('/auth/me', joined.accessToken)).body.account_role, 'admin');
    });

    it('re-inviting an address replaces its open invite', async () => {
      const email = uniqueEmail('twice');
      const first = await invite(owner, email, 'member');
      const second = await invite(owner, email, 'admin');
      assert.equal(second.status, 201);
      assert.notEqual(first.body.code, second.body.code);
      const row = await t.app.ctx.db.selectFrom('account_invites').selectAll().where('id', '=', first.body.id).executeTakeFirstOrThrow();
      assert.ok(row.revoked_at, 'the first invite is revoked');
      const listed = (await t.api.get('/accounts/me/invites', owner.accessToken)).body.filter((i: { email: string }) => i.email === email);
      assert.deepEqual(listed.map((i: { id: string }) => i.id), [second.body.id]);

      const withOld = await t.api.post('/auth/register', { email, password: PASSWORD, name: 'X', account_invite_code: first.body.code });
      assert.equal(withOld.status, 400);
      assert.deepEqual(withOld.body, { detail: 'Invalid account invite code', code: 'invalid_account_invite_code' });
      const joined = await registerAndSignIn(t.api, { email, account_invite_code: second.body.code });
      assert.equal((await t.api.get('/auth/me', joined.accessToken)).body.account_role, 'admin');
    });

    it('revokes an open invite; a revoked invite cannot be used', async () => {
      const email = uniqueEmail('revoked');
      const created = await invite(owner, email);
      const revoked = await t.api.delete(`/accounts/me/invites/${created.body.id}`, owner.accessToken);
      assert.equal(revoked.status, 204);
      assert.equal((await auditRows('account.invite_revoked', created.body.id)).length, 1);
      const used = await t.api.post('/auth/register', { email, password: PASSWORD, name: 'X', account_invite_code: created.body.code });
      assert.equal(used.status, 400);
      assert.deepEqual(used.body, { detail: 'Invalid account invite code', code: 'invalid_account_invite_code' });
      assert.equal((await t.api.delete(`/accounts/me/invites/${created.body.id}`, owner.accessToken)).status, 404);
      assert.equal((await t.api.delete(`/accounts/me/invites/${randomUUID()}`, owner.accessToken)).status, 404);
      for (const bad of ['not-a-uuid', `urn:uuid:${randomUUID()}`, '1']) {
        const response = await t.api.delete(`/accounts/me/invites/${encodeURIComponent(bad)}`, owner.accessToken);
        assert.equal(response.status, 422, bad);
      }
    });

    it('rejects bad invites without writing anything', async () => {
      const before = await inviteCount();
      const member = await join(owner, 'member');
      const afterJoin = await inviteCount();
      for (const [body, status] of [
        [{ email: member.email, role: 'member' }, 400],
        [{ email: owner.email.toUpperCase(), role: 'admin' }, 400],
        [{ email: uniqueEmail(), role: 'owner' }, 422],
        [{ email: uniqueEmail(), role: 'superuser' }, 422],
        [{ email: 'not an email', role: 'member' }, 422],
        [{ role: 'member' }, 422],
        [{ email: uniqueEmail() }, 422],
      ] as const) {
        const response = await t.api.post('/accounts/me/invites', body, owner.accessToken);
        assert.equal(response.status, status, JSON.stringify(body));
      }
      const already = await invite(owner, member.email);
      assert.deepEqual(already.body, { detail: 'This email address already belongs to a member of this account', code: 'already_a_member' });
      assert.equal(afterJoin, before + 1);
      assert.equal(await inviteCount(), afterJoin, 'nothing written');
    });

    it('members read the account but cannot manage it (403)', async () => {
      const member = await join(owner, 'member');
      const colleague = await join(owner, 'member');
      const open = await invite(owner, uniqueEmail());
      const countBefore = await inviteCount();
      assert.equal((await t.api.get('/accounts/me', member.accessToken)).status, 200);
      assert.equal((await t.api.get('/accounts/me/members', member.accessToken)).status, 200);
      for (const response of [
        await invite(member, uniqueEmail()),
        await t.api.get('/accounts/me/invites', member.accessToken),
        await t.api.delete(`/accounts/me/invites/${open.body.id}`, member.accessToken),
        await t.api.patch(`/accounts/me/members/${colleague.id}`, { account_role: 'admin' }, member.accessToken),
        await t.api.delete(`/accounts/me/members/${colleague.id}`, member.accessToken),
        await t.api.patch(`/accounts/me/members/${member.id}`, { account_role: 'admin' }, member.accessToken),
      ]) {
        assert.equal(response.status, 403);
        assert.deepEqual(response.body, { detail: 'Not enough permissions', code: 'not_enough_permissions' });
      }
      assert.equal(await inviteCount(), countBefore);
      assert.equal((await t.api.get('/auth/me', colleague.accessToken)).body.account_role, 'member');
    });

    it('an admin of another account cannot see or touch this account (404)', async () => {
      const otherOwner = await registerAndSignIn(t.api, { name: 'Other' });
      const otherAdmin = await join(otherOwner, 'admin');
      const member = await join(owner, 'member');
      const open = await invite(owner, uniqueEmail());
      const members = await t.api.get('/accounts/me/members', otherAdmin.accessToken);
      assert.ok(!members.body.some((m: { id: string }) => m.id === member.id || m.id === owner.id));
      assert.ok(!(await t.api.get('/accounts/me/invites', otherAdmin.accessToken)).body.some((i: { id: string }) => i.id === open.body.id));

      const patched = await t.api.patch(`/accounts/me/members/${member.id}`, { account_role: 'admin' }, otherAdmin.accessToken);
      assert.equal(patched.status, 404);
      assert.deepEqual(patched.body, { detail: 'User not found', code: 'user_not_found' });
      assert.equal((await t.api.delete(`/accounts/me/members/${member.id}`, otherAdmin.accessToken)).status, 404);
      assert.equal((await t.api.delete(`/accounts/me/members/${owner.id}`, otherOwner.accessToken)).status, 404);
      assert.equal((await t.api.delete(`/accounts/me/invites/${open.body.id}`, otherAdmin.accessToken)).status, 404);
      assert.equal((await t.api.get('/auth/me', member.accessToken)).body.account_role, 'member');
      const row = await t.app.ctx.db.selectFrom('account_invites').select('revoked_at').where('id', '=', open.body.id).executeTakeFirstOrThrow();
      assert.equal(row.revoked_at, null);

      for (const bad of ['nope', `urn:uuid:${member.id}`]) {
        assert.equal((await t.api.patch(`/accounts/me/members/${bad}`, { account_role: 'admin' }, owner.accessToken)).status, 422);
        assert.equal((await t.api.delete(`/accounts/me/members/${bad}`, owner.accessToken)).status, 422);
      }
      assert.equal((await t.api.patch(`/accounts/me/members/${randomUUID()}`, { account_role: 'admin' }, owner.accessToken)).status, 404);
    });

    it('changes roles: owners manage admins, admins manage members, the owner is protected', async () => {
      const admin = await join(owner, 'admin');
      const otherAdmin = await join(owner, 'admin');
      const member = await join(owner, 'member');

      const promoted = await t.api.patch(`/accounts/me/members/${member.id}`, { account_role: 'admin' }, admin.accessToken);
      assert.equal(promoted.status, 200, JSON.stringify(promoted.body));
      assert.equal(promoted.body.account_role, 'admin');
      const [audit] = await auditRows('account.member_role_changed', member.id);
      assert.deepEqual({ user: audit?.user_id, from: audit?.details.from, to: audit?.details.to }, { user: admin.id, from: 'member', to: 'admin' });

      const peer = await t.api.patch(`/accounts/me/members/${otherAdmin.id}`, { account_role: 'member' }, admin.accessToken);
      assert.equal(peer.status, 403, 'an admin cannot demote another admin');
      const demoted = await t.api.patch(`/accounts/me/members/${otherAdmin.id}`, { account_role: 'member' }, owner.accessToken);
      assert.equal(demoted.status, 200);
      assert.equal(demoted.body.account_role, 'member');

      const ownerDemoted = await t.api.patch(`/accounts/me/members/${owner.id}`, { account_role: 'member' }, admin.accessToken);
      assert.equal(ownerDemoted.status, 400);
      assert.deepEqual(ownerDemoted.body, { detail: 'The account owner cannot be demoted', code: 'owner_cannot_be_demoted' });
      assert.equal((await t.api.patch(`/accounts/me/members/${owner.id}`, { account_role: 'admin' }, owner.accessToken)).body.detail,
        'The account owner cannot be demoted');
      const self = await t.api.patch(`/accounts/me/members/${admin.id}`, { account_role: 'member' }, admin.accessToken);
      assert.equal(self.status, 400);
      assert.deepEqual(self.body, { detail: 'You cannot change your own account role', code: 'cannot_change_own_role' });
      for (const role of ['owner', 'root', null]) {
        assert.equal((await t.api.patch(`/accounts/me/members/${member.id}`, { account_role: role }, owner.accessToken)).status, 422);
      }
      assert.equal((await t.api.get('/auth/me', owner.accessToken)).body.account_role, 'owner');
    });

    it('removing a member moves them to a personal account and ends their sessions at once', async () => {
      const admin = await join(owner, 'admin');
      const member = await join(owner, 'member');
      const accountId = (await t.api.get('/accounts/me', owner.accessToken)).body.id;

      const removed = await t.api.delete(`/accounts/me/members/${member.id}`, admin.accessToken);
      assert.equal(removed.status, 204);
      assert.equal((await t.api.get('/auth/me', member.accessToken)).status, 401, 'access token dead at once');
      assert.equal((await t.api.post('/auth/refresh', { refresh_token: member.refreshToken })).status, 401);
      const members = (await t.api.get('/accounts/me/members', owner.accessToken)).body.map((m: { id: string }) => m.id);
      assert.ok(!members.includes(member.id));
      const [audit] = await auditRows('account.member_removed', member.id);
      assert.equal(audit?.user_id, admin.id);

      const again = await signIn(t.api, member.email);
      const account = await t.api.get('/accounts/me', again.accessToken);
      assert.notEqual(account.body.id, accountId);
      assert.equal(account.body.owner_id, member.id);
      assert.equal((await t.api.get('/auth/me', again.accessToken)).body.account_role, 'owner');

      assert.equal((await t.api.delete(`/accounts/me/members/${member.id}`, admin.accessToken)).status, 404, 'no longer a member');
      const ownerRemoved = await t.api.delete(`/accounts/me/members/${owner.id}`, admin.accessToken);
      assert.equal(ownerRemoved.status, 400);
      assert.deepEqual(ownerRemoved.body, { detail: 'The account owner cannot be removed', code: 'owner_cannot_be_removed' });
      const peer = await join(owner, 'admin');
      assert.equal((await t.api.delete(`/accounts/me/members/${peer.id}`, admin.accessToken)).status, 403);
      const self = await t.api.delete(`/accounts/me/members/${admin.id}`, admin.accessToken);
      assert.deepEqual(self.body, { detail: 'You cannot remove yourself from the account', code: 'cannot_remove_self' });
      assert.equal((await t.api.delete(`/accounts/me/members/${peer.id}`, owner.accessToken)).status, 204);
      assert.equal((await t.api.get('/auth/me', admin.accessToken)).status, 200, 'other sessions untouched');
    });

    // Moves the shared clock 8 days on: keep this test last.
    it('an invite expires after 7 days', async () => {
      const email = uniqueEmail('late');
      const created = await invite(owner, email);
      t.clock.advanceDays(8);
      const late = await t.api.post('/auth/register', { email, password: PASSWORD, name: 'Late', account_invite_code: created.body.code });
      assert.equal(late.status, 400);
      assert.deepEqual(late.body, { detail: 'Account invite code has expired', code: 'account_invite_code_expired' });
      // Still open (so it can be replaced), and re-inviting gives a working code.
      const fresh = await signIn(t.api, owner.email);
      const again = await t.api.post('/accounts/me/invites', { email, role: 'member' }, fresh.accessToken);
      assert.equal(again.status, 201);
      const joined = await registerAndSignIn(t.api, { email, account_invite_code: again.body.code });
      assert.equal((await t.api.get('/auth/me', joined.accessToken)).body.account_role, 'member');
    });
  });
}
