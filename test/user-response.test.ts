// Every route that answers with a UserResponse answers with exactly its fields: the schema's
// allow-list, which is also the contract's list (shared API.md, "User object"). A field added
// to a reply, or a route whose serializer lost its schema, shows up here.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ensureAdmin } from '../src/modules/admin/create-admin.js';
import { UserResponse } from '../src/modules/users/user.schemas.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { PASSWORD, registerAndSignIn, signIn, uniqueEmail } from './helpers/fixtures.js';

// API.md, "User object (`UserResponse`)", in its order.
const CONTRACT_FIELDS = [
  'id', 'email', 'name', 'role', 'account_id', 'account_role', 'is_active',
  'email_verified_at', 'must_change_password', 'has_password', 'phone',
  'job_title', 'timezone', 'last_login', 'created_at',
  // Extensions (0.2), "Multi-factor authentication".
  'mfa_enabled',
];
const SCHEMA_FIELDS = Object.keys(UserResponse.properties);

// Serialisation does not depend on the database: one run is enough.
describe('UserResponse replies', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp('pglite');
  });
  after(() => t.close());

  const assertUserShape = (what: string, body: unknown) => {
    assert.ok(body && typeof body === 'object' && !Array.isArray(body), `${what}: an object`);
    assert.deepEqual(Object.keys(body).sort(), [...SCHEMA_FIELDS].sort(), what);
    for (const [key, value] of Object.entries(body)) assert.notEqual(value, undefined, `${what}: ${key}`);
  };

  it('the schema lists exactly the contract’s fields', () => {
    assert.deepEqual(SCHEMA_FIELDS, CONTRACT_FIELDS);
    assert.notEqual(UserResponse.additionalProperties, true, 'the serializer drops what the schema does not list');
  });

  it('register, me, profile update, account members and admin users all answer with exactly those fields', async () => {
    const email = uniqueEmail('shape');
    const registered = await t.api.post('/auth/register', { email, password: PASSWORD, name: 'Shape Owner' });
    assert.equal(registered.status, 201);
    assertUserShape('POST /auth/register', registered.body);
    const owner = { id: registered.body.id as string, ...(await signIn(t.api, email)) };

    const me = await t.api.get('/auth/me', owner.accessToken);
    assert.equal(me.status, 200);
    assertUserShape('GET /auth/me', me.body);
    const patched = await t.api.patch('/auth/me', { job_title: 'Shaper' }, owner.accessToken);
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    assertUserShape('PATCH /auth/me', patched.body);

    const inviteEmail = uniqueEmail('member');
    const invite = await t.api.post('/accounts/me/invites', { email: inviteEmail, role: 'member' }, owner.accessToken);
    assert.equal(invite.status, 201, JSON.stringify(invite.body));
    const member = await registerAndSignIn(t.api, { email: inviteEmail, account_invite_code: invite.body.code });
    const members = await t.api.get('/accounts/me/members', owner.accessToken);
    assert.equal(members.status, 200);
    assert.equal(members.body.length, 2);
    for (const row of members.body) assertUserShape('GET /accounts/me/members', row);
    const promoted = await t.api.patch(`/accounts/me/members/${member.id}`, { account_role: 'admin' }, owner.accessToken);
    assert.equal(promoted.status, 200, JSON.stringify(promoted.body));
    assertUserShape('PATCH /accounts/me/members/:user_id', promoted.body);

    const adminEmail = uniqueEmail('admin');
    await ensureAdmin(t.app.ctx, { email: adminEmail, password: PASSWORD, name: 'Shape Admin' });
    const admin = await signIn(t.api, adminEmail);
    const users = await t.api.get('/admin/users', admin.accessToken);
    assert.equal(users.status, 200);
    assert.ok(users.body.length >= 3);
    for (const row of users.body) assertUserShape('GET /admin/users', row);
    const deactivated = await t.api.patch(`/admin/users/${member.id}`, { is_active: false }, admin.accessToken);
    assert.equal(deactivated.status, 200, JSON.stringify(deactivated.body));
    assertUserShape('PATCH /admin/users/:user_id', deactivated.body);
    assert.equal(deactivated.body.is_active, false);
  });
});
