// SCIM 2.0 provisioning: tokens, discovery, Users and their mapping to Keyhold users, filters,
// paging and projections, errors, tenant isolation, deprovisioning, adoption, audit and events.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { startTestApp, type TestApp } from './helpers/app.js';
import { DATABASE_KINDS } from './helpers/database.js';
import { registerAndSignIn, registerUser, uniqueEmail, type SignedInUser } from './helpers/fixtures.js';
import { queuedEmails } from './helpers/jobs.js';
import { assertScimError, ENTERPRISE, ScimClient, scimClientFor, scimUser, USER } from './helpers/scim.js';

const VERIFIED_DOMAIN = 'acme-verified.test';

for (const kind of DATABASE_KINDS) {
  describe(`SCIM provisioning (${kind})`, () => {
    let t: TestApp;
    let owner: SignedInUser;
    let scim: ScimClient & { tokenId: string };
    // What SSO would say: the account of `owner` verified VERIFIED_DOMAIN; `ssoAccounts` have a connection.
    let ownerAccountId = '';
    const ssoAccounts = new Set<string>();

    before(async () => {
      t = await startTestApp(kind, {
        identityFacts: {
          verifiedDomains: async (accountId) => (accountId === ownerAccountId ? [VERIFIED_DOMAIN] : []),
          hasSsoConnection: async (accountId) => ssoAccounts.has(accountId),
        },
      });
      owner = await registerAndSignIn(t.api, { name: 'Olivia Owner' });
      ownerAccountId = (await t.api.get('/auth/me', owner.accessToken)).body.account_id;
      scim = await scimClientFor(t, owner.accessToken, 'Entra ID');
    });
    after(() => t.close());

    const db = () => t.app.ctx.db;
    const events = async (type: string) =>
      (await sql<{ data: any }>`SELECT payload->'data' AS data FROM jobs WHERE kind = 'event' AND payload->>'type' = ${type} ORDER BY created_at`.execute(db())).rows.map(
        (r) => r.data,
      );
    const createUser = async (extra: Record<string, unknown> = {}) => {
      const email = uniqueEmail('scim');
      const created = await scim.post('/Users', scimUser(email, { emails: [{ value: email, type: 'work', primary: true }], ...extra }));
      assert.equal(created.status, 201, JSON.stringify(created.body));
      return { id: created.body.id as string, email, body: created.body };
    };

    describe('tokens', () => {
      it('are shown once, stored hashed, listed with last_used_at, and deletable by the owner', async () => {
        const created = await t.api.post('/accounts/me/scim-tokens', { description: 'Okta' }, owner.accessToken);
        assert.equal(created.status, 201);
        assert.match(created.body.token, /^khscim_/);
        const stored = await db().selectFrom('scim_tokens').selectAll().where('id', '=', created.body.id).executeTakeFirstOrThrow();
        assert.notEqual(stored.token_hash, created.body.token);
        assert.equal(stored.token_hash.length, 64);
        const listed = await t.api.get('/accounts/me/scim-tokens', owner.accessToken);
        const row = listed.body.find((r: any) => r.id === created.body.id);
        assert.equal(row.token, undefined);
        assert.equal(row.last_used_at, null);
        const client = new ScimClient(`${t.baseUrl}/scim/v2`, created.body.token);
        assert.equal((await client.get('/ServiceProviderConfig')).status, 200);
        const after = await t.api.get('/accounts/me/scim-tokens', owner.accessToken);
        assert.notEqual(after.body.find((r: any) => r.id === created.body.id).last_used_at, null);
        assert.equal((await t.api.delete(`/accounts/me/scim-tokens/${created.body.id}`, owner.accessToken)).status, 204);
        assertScimError(await client.get('/Users'), 401);
        const again = await t.api.delete(`/accounts/me/scim-tokens/${created.body.id}`, owner.accessToken);
        assert.deepEqual([again.status, again.body.code], [404, 'scim_token_not_found']);
      });

      it('members cannot manage tokens or settings (403); nobody signed out can (401)', async () => {
        const invited = await t.api.post('/accounts/me/invites', { email: uniqueEmail('member'), role: 'member' }, owner.accessToken);
        const member = await registerAndSignIn(t.api, { email: invited.body.email, account_invite_code: invited.body.code });
        assert.equal((await t.api.post('/accounts/me/scim-tokens', {}, member.accessToken)).status, 403);
        assert.equal((await t.api.get('/accounts/me/scim-tokens', member.accessToken)).status, 403);
        assert.equal((await t.api.put('/accounts/me/scim-settings', { group_roles: {} }, member.accessToken)).status, 403);
        assert.equal((await t.api.get('/accounts/me/scim-tokens')).status, 401);
      });

      it('a bad, missing or user token is 401 in the SCIM error schema', async () => {
        for (const token of ['', 'khscim_nope', owner.accessToken]) {
          const response = await new ScimClient(`${t.baseUrl}/scim/v2`, token).get('/Users');
          assertScimError(response, 401);
        }
      });
    });

    describe('discovery', () => {
      it('serves ServiceProviderConfig (no ETags, no bulk, no sort), ResourceTypes and Schemas', async () => {
        const config = await scim.get('/ServiceProviderConfig');
        assert.equal(config.status, 200);
        assert.match(config.headers.get('content-type') ?? '', /^application\/scim\+json/);
        assert.equal(config.body.etag.supported, false);
        assert.equal(config.body.bulk.supported, false);
        assert.equal(config.body.patch.supported, true);
        assert.equal(config.body.filter.maxResults, 1000);
        const types = await scim.get('/ResourceTypes');
        assert.deepEqual(types.body.Resources.map((r: any) => r.name), ['User', 'Group']);
        assert.equal(types.body.Resources[0].schemaExtensions[0].schema, ENTERPRISE);
        const schemas = await scim.get('/Schemas');
        assert.deepEqual(schemas.body.Resources.map((r: any) => r.id), [USER, ENTERPRISE, 'urn:ietf:params:scim:schemas:core:2.0:Group']);
        assert.equal((await scim.get(`/Schemas/${USER}`)).body.name, 'User');
        assertScimError(await scim.get('/Schemas/urn:nope'), 404);
        assertScimError(await scim.get('/NoSuchThing'), 404);
      });
    });

    describe('Users', () => {
      it('POST creates a passwordless member of the account, with the mapping and the enterprise extension', async () => {
        const email = uniqueEmail('Ada');
        const created = await scim.post('/Users', {
          schemas: [USER, ENTERPRISE],
          userName: `Ada.Lovelace-${randomUUID()}`,
          externalId: 'ext-ada',
          name: { givenName: 'Ada', familyName: 'Lovelace' },
          displayName: 'Ada L.',
          title: 'Analyst',
          timezone: 'Europe/London',
          phoneNumbers: [{ value: '+44 20 7946 0000', type: 'work' }],
          emails: [
            { value: 'other@example.com', type: 'home' },
            { value: email.toUpperCase(), type: 'work', primary: 'True' },
          ],
          password: 'ignored-by-keyhold',
          [ENTERPRISE]: { department: 'Engines', employeeNumber: '1815', manager: 'someone-id' },
        });
        assert.equal(created.status, 201, JSON.stringify(created.body));
        assert.equal(created.headers.get('location'), created.body.meta.location);
        assert.equal(created.body.password, undefined);
        assert.equal(created.body[ENTERPRISE].department, 'Engines');
        assert.deepEqual(created.body[ENTERPRISE].manager, { value: 'someone-id' });
        assert.equal(created.body.active, true);
        const user = await db().selectFrom('users').selectAll().where('id', '=', created.body.id).executeTakeFirstOrThrow();
        assert.equal(user.email, email.toLowerCase());
        assert.equal(user.name, 'Ada Lovelace');
        assert.equal(user.job_title, 'Analyst');
        assert.equal(user.timezone, 'Europe/London');
        assert.equal(user.phone, '+44 20 7946 0000');
        assert.equal(user.password_hash, null);
        assert.equal(user.account_id, ownerAccountId);
        assert.equal(user.account_role, 'member');
        assert.equal(user.email_verified_at, null, 'not a verified domain: the directory does not vouch for it');
        // No SSO connection: an invitation to set a password.
        const mails = await queuedEmails(db(), { to: user.email, template: 'password_setup' });
        assert.equal(mails.length, 1);
        assert.ok((await events('user.created')).some((e) => e.id === user.id));
        assert.ok((await events('account.member_added')).some((e) => e.user_id === user.id && e.account_id === ownerAccountId));
        const audit = await db().selectFrom('audit_logs').selectAll().where('action', '=', 'scim.user_created').where('resource_id', '=', user.id).executeTakeFirstOrThrow();
        assert.equal((audit.details as any).actor, `scim:${scim.tokenId}`);
        const read = await scim.get(`/Users/${created.body.id}`);
        assert.deepEqual(read.body, created.body);
      });

      it('userName is an email when emails are absent; neither is 400 invalidValue', async () => {
        const email = uniqueEmail('un');
        const created = await scim.post('/Users', scimUser(email));
        assert.equal(created.status, 201, JSON.stringify(created.body));
        assert.deepEqual(created.body.emails, [{ value: email, primary: true }]);
        assertScimError(await scim.post('/Users', scimUser('not-an-address')), 400, 'invalidValue');
        assertScimError(await scim.post('/Users', { schemas: [USER] }), 400, 'invalidValue');
        assertScimError(await scim.post('/Users', { schemas: ['urn:wrong'], userName: uniqueEmail() }), 400, 'invalidSyntax');
      });

      it('an account with an SSO connection sends no password invitation', async () => {
        ssoAccounts.add(ownerAccountId);
        try {
          const { email } = await createUser();
          assert.equal((await queuedEmails(db(), { to: email, template: 'password_setup' })).length, 0);
        } finally {
          ssoAccounts.delete(ownerAccountId);
        }
      });

      it('userName is unique in the account case-insensitively (409 uniqueness) and kept as sent', async () => {
        const userName = `Mixed.Case-${randomUUID()}`;
        const first = await scim.post('/Users', scimUser(userName, { emails: [{ value: uniqueEmail() }] }));
        assert.equal(first.body.userName, userName);
        assertScimError(await scim.post('/Users', scimUser(userName.toUpperCase(), { emails: [{ value: uniqueEmail() }] })), 409, 'uniqueness');
        const found = await scim.filterUsers(`userName eq "${userName.toLowerCase()}"`);
        assert.equal(found.body.totalResults, 1);
      });

      it('an email held outside the account is 409 uniqueness; a member already here is linked', async () => {
        const outsider = await registerUser(t.api);
        assertScimError(await scim.post('/Users', scimUser(outsider.email)), 409, 'uniqueness');
        const invited = await t.api.post('/accounts/me/invites', { email: uniqueEmail('inv'), role: 'member' }, owner.accessToken);
        const member = await registerAndSignIn(t.api, { email: invited.body.email, account_invite_code: invited.body.code });
        const linked = await scim.post('/Users', scimUser(member.email));
        assert.equal(linked.status, 201, JSON.stringify(linked.body));
        assert.equal(linked.body.id, member.id);
        assertScimError(await scim.post('/Users', scimUser(`again-${member.email}`, { emails: [{ value: member.email }] })), 409, 'uniqueness');
      });

      it('adopts someone alone in a personal account whose email is on a verified domain', async () => {
        const email = `solo-${randomUUID().slice(0, 8)}@${VERIFIED_DOMAIN}`;
        const solo = await registerAndSignIn(t.api, { email });
        const before = (await t.api.get('/auth/me', solo.accessToken)).body;
        const adopted = await scim.post('/Users', scimUser(email, { name: { givenName: 'Solo', familyName: 'Person' } }));
        assert.equal(adopted.status, 201, JSON.stringify(adopted.body));
        assert.equal(adopted.body.id, solo.id);
        const user = await db().selectFrom('users').selectAll().where('id', '=', solo.id).executeTakeFirstOrThrow();
        assert.equal(user.account_id, ownerAccountId);
        assert.equal(user.account_role, 'member');
        assert.equal(user.name, 'Solo Person');
        assert.equal(await db().selectFrom('accounts').select('id').where('id', '=', before.account_id).executeTakeFirst(), undefined, 'the personal account closed');
        assert.equal((await t.api.get('/auth/me', solo.accessToken)).status, 401, 'sessions of the personal account ended');
        // Not alone (owns an account with members): refused.
        const busyEmail = `busy-${randomUUID().slice(0, 8)}@${VERIFIED_DOMAIN}`;
        const busy = await registerAndSignIn(t.api, { email: busyEmail });
        const inv = await t.api.post('/accounts/me/invites', { email: uniqueEmail('m'), role: 'member' }, busy.accessToken);
        await registerUser(t.api, { email: inv.body.email, account_invite_code: inv.body.code });
        assertScimError(await scim.post('/Users', scimUser(busyEmail)), 409, 'uniqueness');
      });

      it('PUT replaces; PATCH follows RFC 7644 with Entra/Okta variations; events and audit follow', async () => {
        const { id, email } = await createUser({ name: { givenName: 'Pat', familyName: 'Old' }, [ENTERPRISE]: { department: 'A' } });
        const put = await scim.put(`/Users/${id}`, scimUser(email, { name: { givenName: 'Pat', familyName: 'New' }, emails: [{ value: email, primary: true }], title: 'Lead' }));
        assert.equal(put.status, 200, JSON.stringify(put.body));
        assert.equal(put.body.title, 'Lead');
        assert.equal(put.body[ENTERPRISE], undefined, 'PUT replaces: the extension not sent is gone');
        const patched = await scim.patch(`/Users/${id}`, [
          { op: 'Replace', path: 'name.familyName', value: 'Patched' },
          { op: 'add', value: { 'name.givenName': 'Patty', title: 'Chief', [`${ENTERPRISE}:department`]: 'B' } },
          { op: 'REMOVE', path: 'title' },
        ]);
        assert.equal(patched.status, 200, JSON.stringify(patched.body));
        assert.equal(patched.body.name.givenName, 'Patty');
        assert.equal(patched.body.name.familyName, 'Patched');
        assert.equal(patched.body.title, undefined);
        assert.equal(patched.body[ENTERPRISE].department, 'B');
        const user = await db().selectFrom('users').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
        assert.equal(user.name, 'Patty Patched');
        assert.equal(user.job_title, null);
        assert.ok((await events('user.updated')).some((e) => e.id === id && e.name === 'Patty Patched'));
        assertScimError(await scim.patch(`/Users/${id}`, [{ op: 'explode', path: 'title', value: 'x' }]), 400, 'invalidSyntax');
        assertScimError(await scim.request('PATCH', `/Users/${id}`, { Operations: [] }), 400, 'invalidSyntax');
        assertScimError(await scim.patch(`/Users/${id}`, [{ op: 'remove' }]), 400, 'noTarget');
      });

      it('active "False" deactivates and ends every session; active true reactivates', async () => {
        const { id, email } = await createUser();
        const [mail] = await queuedEmails(db(), { to: email, template: 'password_setup' });
        const token = /token=([^\s&]+)/.exec(mail!.text!)![1]!;
        const password = 'a fresh provisioned password';
        assert.equal((await t.api.post('/auth/password/reset', { token: decodeURIComponent(token), new_password: password })).status, 200);
        const login = await t.api.post('/auth/login/json', { email, password });
        assert.equal(login.status, 200, JSON.stringify(login.body));
        const off = await scim.patch(`/Users/${id}`, [{ op: 'Replace', path: 'active', value: 'False' }]);
        assert.equal(off.status, 200, JSON.stringify(off.body));
        assert.equal(off.body.active, false);
        assert.notEqual((await t.api.get('/auth/me', login.body.access_token)).status, 200);
        assert.notEqual((await t.api.post('/auth/refresh', { refresh_token: login.body.refresh_token })).status, 200);
        const live = await db().selectFrom('sessions').select('id').where('user_id', '=', id).where('revoked_at', 'is', null).execute();
        assert.equal(live.length, 0);
        assert.ok((await events('user.deactivated')).some((e) => e.id === id));
        assert.ok((await events('session.revoked')).some((e) => e.user_id === id));
        const on = await scim.patch(`/Users/${id}`, [{ op: 'replace', value: { active: true } }]);
        assert.equal(on.body.active, true);
        assert.ok((await events('user.reactivated')).some((e) => e.id === id));
      });

      it('DELETE removes the user as account deletion does; the owner is never changed', async () => {
        const { id, email } = await createUser();
        assert.equal((await scim.delete(`/Users/${id}`)).status, 204);
        assertScimError(await scim.get(`/Users/${id}`), 404);
        assert.equal(await db().selectFrom('users').select('id').where('id', '=', id).executeTakeFirst(), undefined);
        assert.ok((await events('user.deleted')).some((e) => e.id === id && e.email === email));
        const audit = await db().selectFrom('audit_logs').selectAll().where('action', '=', 'scim.user_deleted').where('resource_id', '=', id).executeTakeFirstOrThrow();
        assert.equal((audit.details as any).actor, `scim:${scim.tokenId}`);
        assertScimError(await scim.delete(`/Users/${id}`), 404);
        // The owner, linked by their address, can be read but not deactivated or deleted.
        const linked = await scim.post('/Users', scimUser(owner.email));
        assert.equal(linked.body.id, owner.id);
        assertScimError(await scim.patch(`/Users/${owner.id}`, [{ op: 'replace', path: 'active', value: false }]), 400, 'mutability');
        assertScimError(await scim.delete(`/Users/${owner.id}`), 400, 'mutability');
        const me = await t.api.get('/auth/me', owner.accessToken);
        assert.equal(me.body.is_active, true);
        assert.equal(me.body.account_role, 'owner');
      });

      it('unknown or malformed ids are 404', async () => {
        assertScimError(await scim.get(`/Users/${randomUUID()}`), 404);
        assertScimError(await scim.get('/Users/not-a-uuid'), 404);
        assertScimError(await scim.put(`/Users/${randomUUID()}`, scimUser(uniqueEmail())), 404);
        assertScimError(await scim.patch(`/Users/${randomUUID()}`, [{ op: 'replace', path: 'title', value: 'x' }]), 404);
      });

      it('accepts application/json bodies too; malformed JSON is 400 invalidSyntax', async () => {
        const email = uniqueEmail('json');
        assert.equal((await scim.request('POST', '/Users', scimUser(email), 'application/json')).status, 201);
        const broken = await fetch(`${scim.base}/Users`, { method: 'POST', headers: { authorization: `Bearer ${scim.token}`, 'content-type': 'application/scim+json' }, body: '{"userName":' });
        assertScimError({ status: broken.status, body: await broken.json(), headers: broken.headers }, 400, 'invalidSyntax');
      });
    });

    describe('filters, paging and projections', () => {
      let tagged: Array<{ id: string; email: string }> = [];
      const tag = `f${randomUUID().slice(0, 6)}`;

      before(async () => {
        tagged = [];
        for (const [i, type] of ['work', 'home', 'work'].entries()) {
          const email = `${tag}-${i}@filters.example`;
          const created = await scim.post('/Users', scimUser(`${tag}-user-${i}`, { externalId: `${tag}-ext-${i}`, displayName: `${tag} Person ${i}`, emails: [{ value: email, type }], active: i !== 2 }));
          assert.equal(created.status, 201, JSON.stringify(created.body));
          tagged.push({ id: created.body.id, email });
        }
      });

      const ids = async (filter: string) => {
        const response = await scim.filterUsers(filter, '&count=1000');
        assert.equal(response.status, 200, JSON.stringify(response.body));
        return response.body.Resources.map((r: any) => r.id).sort();
      };
      const expect = (...indexes: number[]) => indexes.map((i) => tagged[i]!.id).sort();

      it('eq ne co sw ew pr gt ge lt le, and/or/not, parentheses and value paths', async () => {
        assert.deepEqual(await ids(`userName eq "${tag}-USER-1"`), expect(1));
        assert.deepEqual(await ids(`userName sw "${tag}" and userName ne "${tag}-user-1"`), expect(0, 2));
        assert.deepEqual(await ids(`userName co "${tag}-user" and not (userName ew "-2")`), expect(0, 1));
        assert.deepEqual(await ids(`externalId eq "${tag}-ext-2"`), expect(2));
        assert.deepEqual(await ids(`externalId eq "${tag}-EXT-2"`), [], 'externalId is caseExact');
        assert.deepEqual(await ids(`userName sw "${tag}" and active eq false`), expect(2));
        assert.deepEqual(await ids(`emails.value eq "${tag}-1@filters.example"`), expect(1));
        assert.deepEqual(await ids(`emails[type eq "work" and value co "${tag}"]`), expect(0, 2));
        assert.deepEqual(await ids(`displayName sw "${tag} person" and (userName ew "-0" or userName ew "-1")`), expect(0, 1));
        assert.deepEqual(await ids(`userName sw "${tag}" and externalId pr`), expect(0, 1, 2));
        assert.deepEqual(await ids(`userName gt "${tag}-user-0" and userName le "${tag}-user-2"`), expect(1, 2));
        assert.deepEqual(await ids(`userName ge "${tag}-user-1" and userName lt "${tag}-user-2"`), expect(1));
        const stamp = new Date(Date.now() - 3600_000).toISOString();
        assert.deepEqual(await ids(`userName sw "${tag}" and meta.lastModified gt "${stamp}"`), expect(0, 1, 2));
        assert.deepEqual(await ids(`userName sw "${tag}" and meta.lastModified lt "${stamp}"`), []);
        // LIKE's wildcards in a value are literal.
        assert.deepEqual(await ids(`userName co "%"`), []);
      });

      it('anything else is 400 invalidFilter', async () => {
        for (const filter of ['title eq "x"', 'userName eq', 'userName xx "a"', 'active gt true', 'meta.lastModified gt "yesterday"', 'emails[type eq "work"', 'name.givenName eq "a"', "userName eq 'single'"]) {
          assertScimError(await scim.filterUsers(filter), 400, 'invalidFilter');
        }
      });

      it('pages with startIndex and count (count capped at 1,000)', async () => {
        const filter = `userName sw "${tag}"`;
        const all = (await scim.filterUsers(filter)).body.Resources.map((r: any) => r.id);
        const page = await scim.filterUsers(filter, '&startIndex=2&count=1');
        assert.equal(page.body.totalResults, 3);
        assert.equal(page.body.startIndex, 2);
        assert.equal(page.body.itemsPerPage, 1);
        assert.equal(page.body.Resources[0].id, all[1], 'a stable order: page 2 of 1 is the second of the whole list');
        const none = await scim.filterUsers(filter, '&count=0');
        assert.deepEqual([none.body.totalResults, none.body.Resources.length], [3, 0]);
        const huge = await scim.get('/Users?count=5000');
        assert.ok(huge.body.itemsPerPage <= 1000);
        assertScimError(await scim.get('/Users?count=abc'), 400, 'invalidValue');
      });

      it('attributes and excludedAttributes', async () => {
        const only = await scim.get(`/Users/${tagged[0]!.id}?attributes=userName,emails.value`);
        assert.deepEqual(Object.keys(only.body).sort(), ['emails', 'id', 'schemas', 'userName']);
        assert.deepEqual(only.body.emails, [{ value: tagged[0]!.email }]);
        const without = await scim.filterUsers(`userName eq "${tag}-user-0"`, '&excludedAttributes=emails,meta');
        assert.equal(without.body.Resources[0].emails, undefined);
        assert.equal(without.body.Resources[0].meta, undefined);
        assert.equal(without.body.Resources[0].userName, `${tag}-user-0`);
        const search = await scim.post('/Users/.search', { schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'], filter: `userName eq "${tag}-user-1"`, attributes: ['userName'] });
        assert.equal(search.status, 200, JSON.stringify(search.body));
        assert.deepEqual(search.body.Resources, [{ schemas: [USER], id: tagged[1]!.id, userName: `${tag}-user-1` }]);
      });
    });

    describe('tenant isolation', () => {
      it("a token of one account never reads or changes another's users or groups (404)", async () => {
        const other = await registerAndSignIn(t.api, { name: 'Other Owner' });
        const otherScim = await scimClientFor(t, other.accessToken);
        const { id, email } = await createUser();
        const group = await scim.post('/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: `iso-${randomUUID()}`, members: [{ value: id }] });
        assert.equal(group.status, 201, JSON.stringify(group.body));
        assertScimError(await otherScim.get(`/Users/${id}`), 404);
        assertScimError(await otherScim.put(`/Users/${id}`, scimUser(email)), 404);
        assertScimError(await otherScim.patch(`/Users/${id}`, [{ op: 'replace', path: 'active', value: false }]), 404);
        assertScimError(await otherScim.delete(`/Users/${id}`), 404);
        assertScimError(await otherScim.get(`/Groups/${group.body.id}`), 404);
        assertScimError(await otherScim.delete(`/Groups/${group.body.id}`), 404);
        assert.equal((await otherScim.filterUsers(`userName eq "${email}"`)).body.totalResults, 0);
        assert.equal((await otherScim.get('/Users')).body.totalResults, 0);
        // Nor can it put another account's user into its own group.
        assertScimError(await otherScim.post('/Groups', { displayName: 'steal', members: [{ value: id }] }), 400, 'invalidValue');
        // And its own copy of the same address is a 409, not a takeover.
        assertScimError(await otherScim.post('/Users', scimUser(email)), 409, 'uniqueness');
        const still = await db().selectFrom('users').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
        assert.equal(still.is_active, true);
        assert.equal(still.account_id, ownerAccountId);
      });
    });
  });
}
