// The requests Microsoft Entra ID and Okta document for SCIM 2.0 provisioning, replayed as they
// send them (Entra: "Develop and plan provisioning for a SCIM endpoint"; Okta: "SCIM 2.0
// protocol reference"): create, look-up by filter, update, deactivate, delete, groups and their
// members; and group-to-role mapping through /accounts/me/scim-settings.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestApp } from './helpers/app.js';
import { DATABASE_KINDS } from './helpers/database.js';
import { registerAndSignIn, type SignedInUser } from './helpers/fixtures.js';
import { queuedEmails } from './helpers/jobs.js';
import { assertScimError, ENTERPRISE, GROUP, PATCH_OP, scimClientFor, USER, type ScimClient } from './helpers/scim.js';

const ENTRA_GROUP_SCHEMA = 'http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group';

for (const kind of DATABASE_KINDS) {
  describe(`SCIM as Entra ID and Okta use it (${kind})`, () => {
    let t: TestApp;
    let owner: SignedInUser;
    let scim: ScimClient;

    before(async () => {
      t = await startTestApp(kind);
      owner = await registerAndSignIn(t.api, { name: 'Directory Owner' });
      scim = await scimClientFor(t, owner.accessToken);
    });
    after(() => t.close());

    const userRow = (id: string) => t.app.ctx.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

    it('Entra ID: user life cycle', async () => {
      const userName = `Test_User_${randomUUID()}`;
      // Entra first looks the user up by its matching attribute, then creates it.
      const lookup = await scim.get(`/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}`);
      assert.deepEqual([lookup.status, lookup.body.totalResults, lookup.body.Resources], [200, 0, []]);
      const created = await scim.post('/Users', {
        schemas: [USER, ENTERPRISE],
        externalId: randomUUID(),
        userName,
        active: true,
        emails: [{ primary: true, type: 'work', value: `${userName}@testuser.com` }],
        meta: { resourceType: 'User' },
        name: { formatted: 'givenName familyName', familyName: 'familyName', givenName: 'givenName' },
        roles: [],
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const id = created.body.id as string;
      const found = await scim.get(`/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}`);
      assert.equal(found.body.Resources[0].id, id);
      assert.equal((await scim.get(`/Users?filter=${encodeURIComponent(`externalId eq "${created.body.externalId}"`)}`)).body.totalResults, 1);

      // Update multi-valued and single-valued properties.
      const multi = await scim.request('PATCH', `/Users/${id}`, {
        schemas: [PATCH_OP],
        Operations: [
          { op: 'Replace', path: 'emails[type eq "work"].value', value: `updated-${userName}@testuser.com` },
          { op: 'Replace', path: 'name.familyName', value: 'updatedFamilyName' },
        ],
      });
      assert.equal(multi.status, 200, JSON.stringify(multi.body));
      assert.equal(multi.body.emails[0].value, `updated-${userName}@testuser.com`);
      assert.equal((await userRow(id)).email, `updated-${userName}@testuser.com`.toLowerCase());
      const newName = `${randomUUID()}@testuser.com`;
      const single = await scim.request('PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'Replace', path: 'userName', value: newName }] });
      assert.equal(single.body.userName, newName);
      // The enterprise extension, as Entra addresses it (manager by id alone).
      const enterprise = await scim.request('PATCH', `/Users/${id}`, {
        schemas: [PATCH_OP],
        Operations: [
          { op: 'Add', path: `${ENTERPRISE}:department`, value: 'Sales' },
          { op: 'Add', path: `${ENTERPRISE}:manager`, value: owner.id },
        ],
      });
      assert.equal(enterprise.status, 200, JSON.stringify(enterprise.body));
      assert.equal(enterprise.body[ENTERPRISE].department, 'Sales');
      assert.deepEqual(enterprise.body[ENTERPRISE].manager, { value: owner.id });

      // Disable: Entra's non-compliant default sends the boolean as a string.
      const disabled = await scim.request('PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'Replace', path: 'active', value: 'False' }] });
      assert.equal(disabled.body.active, false);
      assert.equal((await userRow(id)).is_active, false);
      const enabled = await scim.request('PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'Replace', path: 'active', value: true }] });
      assert.equal(enabled.body.active, true);

      const deleted = await scim.delete(`/Users/${id}`);
      assert.equal(deleted.status, 204);
      assertScimError(await scim.get(`/Users/${id}`), 404);
    });

    it('Entra ID: groups and membership', async () => {
      const member = await scim.post('/Users', { schemas: [USER], userName: `${randomUUID()}@entra.example`, active: true });
      const displayName = `Entra Group ${randomUUID()}`;
      const created = await scim.post('/Groups', { schemas: [GROUP, ENTRA_GROUP_SCHEMA], externalId: randomUUID(), displayName, meta: { resourceType: 'Group' } });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const id = created.body.id as string;
      const byName = await scim.get(`/Groups?excludedAttributes=members&filter=${encodeURIComponent(`displayName eq "${displayName}"`)}`);
      assert.equal(byName.body.Resources[0].id, id);
      assert.equal(byName.body.Resources[0].members, undefined);
      const add = await scim.request('PATCH', `/Groups/${id}`, {
        schemas: [PATCH_OP],
        Operations: [{ op: 'Add', path: 'members', value: [{ $ref: null, value: member.body.id }] }],
      });
      assert.equal(add.status, 200, JSON.stringify(add.body));
      assert.deepEqual(add.body.members.map((m: any) => m.value), [member.body.id]);
      // Entra checks membership with a filter on id and members.
      const check = await scim.get(`/Groups?filter=${encodeURIComponent(`id eq "${id}" and members[value eq "${member.body.id}"]`)}&excludedAttributes=members`);
      assert.equal(check.body.totalResults, 1);
      const user = await scim.get(`/Users/${member.body.id}`);
      assert.deepEqual(user.body.groups.map((g: any) => [g.value, g.display]), [[id, displayName]]);
      const remove = await scim.request('PATCH', `/Groups/${id}`, {
        schemas: [PATCH_OP],
        Operations: [{ op: 'Remove', path: 'members', value: [{ $ref: null, value: member.body.id }] }],
      });
      assert.equal(remove.status, 200, JSON.stringify(remove.body));
      assert.equal(remove.body.members, undefined);
      const renamed = await scim.request('PATCH', `/Groups/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'Replace', path: 'displayName', value: `${displayName} 2` }] });
      assert.equal(renamed.body.displayName, `${displayName} 2`);
      assert.equal((await scim.delete(`/Groups/${id}`)).status, 204);
      assertScimError(await scim.get(`/Groups/${id}`), 404);
    });

    it('Okta: user life cycle (create with a password it sends, replace, deactivate)', async () => {
      const userName = `test.user.${randomUUID().slice(0, 8)}@okta.local`;
      const lookup = await scim.get(`/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}&startIndex=1&count=100`);
      assert.equal(lookup.body.totalResults, 0);
      const body = {
        schemas: [USER],
        userName,
        name: { givenName: 'Test', familyName: 'User' },
        emails: [{ primary: true, value: userName, type: 'work' }],
        displayName: 'Test User',
        locale: 'en-US',
        externalId: '00ujl29u0le5T6Aj10h7',
        groups: [],
        password: '1mz050nq',
        active: true,
      };
      const created = await scim.post('/Users', body);
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.equal(created.body.password, undefined);
      assert.equal((await userRow(created.body.id)).password_hash, null, 'Keyhold ignores a directory-sent password');
      const id = created.body.id as string;
      const replaced = await scim.put(`/Users/${id}`, { ...body, id, name: { givenName: 'Another', familyName: 'User' } });
      assert.equal(replaced.status, 200, JSON.stringify(replaced.body));
      assert.equal(replaced.body.name.givenName, 'Another');
      assert.equal((await userRow(id)).name, 'Another User');
      const deactivated = await scim.request('PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { active: false } }] });
      assert.equal(deactivated.status, 200, JSON.stringify(deactivated.body));
      assert.equal(deactivated.body.active, false);
      assert.equal((await userRow(id)).is_active, false);
      // Okta re-activates the same way.
      const reactivated = await scim.request('PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { active: true } }] });
      assert.equal(reactivated.body.active, true);
    });

    it('Okta: group push (create, rename with id in the value, add, remove by filter, replace, delete)', async () => {
      const users = [];
      for (let i = 0; i < 3; i++) users.push((await scim.post('/Users', { schemas: [USER], userName: `${randomUUID()}@okta.local`, active: true })).body);
      const created = await scim.post('/Groups', { schemas: [GROUP], displayName: `Test SCIMv2 ${randomUUID()}`, members: [] });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const id = created.body.id as string;
      const renamed = await scim.request('PATCH', `/Groups/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { id, displayName: 'Okta Renamed' } }] });
      assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
      assert.equal(renamed.body.displayName, 'Okta Renamed');
      const added = await scim.request('PATCH', `/Groups/${id}`, {
        schemas: [PATCH_OP],
        Operations: [{ op: 'add', path: 'members', value: users.map((u: any) => ({ value: u.id, display: u.userName })) }],
      });
      assert.equal(added.body.members.length, 3);
      const removed = await scim.request('PATCH', `/Groups/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'remove', path: `members[value eq "${users[0].id}"]` }] });
      assert.equal(removed.status, 200, JSON.stringify(removed.body));
      assert.deepEqual(removed.body.members.map((m: any) => m.value).sort(), [users[1].id, users[2].id].sort());
      const replaced = await scim.request('PATCH', `/Groups/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'members', value: [{ value: users[0].id, display: users[0].userName }] }] });
      assert.deepEqual(replaced.body.members.map((m: any) => m.value), [users[0].id]);
      const put = await scim.put(`/Groups/${id}`, { schemas: [GROUP], id, displayName: 'Okta Renamed', members: [] });
      assert.equal(put.status, 200);
      assert.equal(put.body.members, undefined);
      assert.equal((await scim.delete(`/Groups/${id}`)).status, 204);
    });

    it('groups map to account roles: the highest wins, none mapped is member, the owner never changes', async () => {
      const settings = await t.api.put('/accounts/me/scim-settings', { group_roles: { 'Keyhold Admins': 'admin', 'Keyhold Users': 'member' } }, owner.accessToken);
      assert.equal(settings.status, 200, JSON.stringify(settings.body));
      assert.deepEqual((await t.api.get('/accounts/me/scim-settings', owner.accessToken)).body, settings.body);
      const alice = (await scim.post('/Users', { schemas: [USER], userName: `${randomUUID()}@roles.example` })).body;
      const ownerLink = await scim.post('/Users', { schemas: [USER], userName: owner.email });
      assert.equal(ownerLink.body.id, owner.id);
      const admins = (await scim.post('/Groups', { schemas: [GROUP], displayName: 'keyhold admins', members: [{ value: alice.id }, { value: owner.id }] })).body;
      const usersGroup = (await scim.post('/Groups', { schemas: [GROUP], displayName: 'Keyhold Users', members: [{ value: alice.id }] })).body;
      assert.equal((await userRow(alice.id)).account_role, 'admin', 'the highest mapped role wins (names match case-insensitively)');
      assert.equal((await userRow(owner.id)).account_role, 'owner');
      await scim.request('PATCH', `/Groups/${admins.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'remove', path: `members[value eq "${alice.id}"]` }] });
      assert.equal((await userRow(alice.id)).account_role, 'member');
      await scim.request('PATCH', `/Groups/${admins.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'members', value: [{ value: alice.id }] }] });
      assert.equal((await userRow(alice.id)).account_role, 'admin');
      // Changing the mapping re-derives roles at once.
      await t.api.put('/accounts/me/scim-settings', { group_roles: { 'Keyhold Users': 'member' } }, owner.accessToken);
      assert.equal((await userRow(alice.id)).account_role, 'member');
      await t.api.put('/accounts/me/scim-settings', { group_roles: { 'Keyhold Users': 'admin' } }, owner.accessToken);
      assert.equal((await userRow(alice.id)).account_role, 'admin');
      await scim.delete(`/Groups/${usersGroup.id}`);
      assert.equal((await userRow(alice.id)).account_role, 'member', 'no mapped group left: member');
      const changes = await t.app.ctx.db.selectFrom('audit_logs').selectAll().where('action', '=', 'account.member_role_changed').where('resource_id', '=', alice.id).execute();
      assert.ok(changes.some((row) => String((row.details as any).actor).startsWith('scim:')));
      assert.ok(changes.some((row) => (row.details as any).actor === `user:${owner.id}`));
      assert.equal((await t.api.put('/accounts/me/scim-settings', { group_roles: { x: 'owner' } }, owner.accessToken)).status, 422);
    });

    it("the SSO module's facts: a verified domain adopts a lone user; a connection replaces the password invitation", async () => {
      const accountId = (await t.api.get('/auth/me', owner.accessToken)).body.account_id as string;
      const domain = `dir-${randomUUID().slice(0, 8)}.example`;
      await t.app.ctx.db
        .insertInto('account_domains')
        .values({ id: randomUUID(), account_id: accountId, domain, verification_token: 'test', verified_at: new Date() })
        .execute();
      const lone = await registerAndSignIn(t.api, { email: `lone@${domain}` });
      const adopted = await scim.post('/Users', { schemas: [USER], userName: `lone@${domain}` });
      assert.equal(adopted.status, 201, JSON.stringify(adopted.body));
      assert.equal(adopted.body.id, lone.id);
      assert.equal((await userRow(lone.id)).account_id, accountId);
      // A new address on the verified domain is taken as verified.
      const fresh = await scim.post('/Users', { schemas: [USER], userName: `fresh@${domain}` });
      assert.notEqual((await userRow(fresh.body.id)).email_verified_at, null);
      assert.equal((await queuedEmails(t.app.ctx.db, { to: `fresh@${domain}`, template: 'password_setup' })).length, 1);
      await t.app.ctx.db
        .insertInto('sso_connections')
        .values({ id: randomUUID(), account_id: accountId, type: 'oidc', name: 'Corp', config: JSON.stringify({}), secrets: 'sealed' } as never)
        .execute();
      const viaSso = await scim.post('/Users', { schemas: [USER], userName: `sso@${domain}` });
      assert.equal(viaSso.status, 201);
      assert.equal((await queuedEmails(t.app.ctx.db, { to: `sso@${domain}`, template: 'password_setup' })).length, 0, 'they sign in through the connection');
    });
  });
}
