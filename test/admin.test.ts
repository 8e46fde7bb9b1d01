import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ensureAdmin } from '../src/modules/admin/create-admin.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { DATABASE_KINDS } from './helpers/database.js';
import { registerAndSignIn, signIn, uniqueEmail, PASSWORD, type SignedInUser } from './helpers/fixtures.js';

for (const kind of DATABASE_KINDS) {
  describe(`platform administration (${kind})`, () => {
    let t: TestApp;
    let admin: SignedInUser;
    let user: SignedInUser;

    before(async () => {
      t = await startTestApp(kind);
      const email = uniqueEmail('admin');
      const { user: row } = await ensureAdmin(t.app.ctx, { email, password: PASSWORD, name: 'Ada Admin' });
      admin = { id: row.id, email, password: PASSWORD, ...(await signIn(t.api, email)) };
      user = await registerAndSignIn(t.api, { name: 'Eve Engineer' });
    });
    after(() => t.close());

    const count = async (table: 'invite_codes' | 'audit_logs' | 'platform_settings') =>
      Number((await t.app.ctx.db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);

    it('guards every /admin route: 401 anonymous, 403 for non-admins', async () => {
      const routes = [
        ['POST', '/admin/invite-codes', {}], ['GET', '/admin/invite-codes'], ['GET', '/admin/settings'],
        ['PUT', '/admin/settings/email_verification_enabled', { value: false }], ['GET', '/admin/users'],
        ['PATCH', `/admin/users/${user.id}`, { role: 'admin' }], ['GET', '/admin/audit-logs'],
      ] as const;
      const codesBefore = await count('invite_codes');
      for (const [method, path, json] of routes) {
        const anonymous = await t.api.request(method, path, json ? { json } : {});
        assert.equal(anonymous.status, 401, `${method} ${path}`);
        const forbidden = await t.api.request(method, path, { token: user.accessToken, ...(json ? { json } : {}) });
        assert.equal(forbidden.status, 403, `${method} ${path}`);
        assert.equal(forbidden.body.detail, 'Not enough permissions');
      }
      assert.equal(await count('invite_codes'), codesBefore);
      assert.equal((await t.api.get('/auth/me', user.accessToken)).body.role, 'engineer');
      assert.equal((await t.api.get('/admin/settings', admin.accessToken)).body.email_verification_enabled, true);
    });

    it('creates invite codes that registration accepts, and lists who used them', async () => {
      const one = await t.api.post('/admin/invite-codes', {}, admin.accessToken);
      assert.equal(one.status, 201, JSON.stringify(one.body));
      assert.equal(one.body.length, 1);
      assert.equal(one.body[0].assigned_plan, null);

      const expiresAt = new Date(t.clock.now().getTime() + 30 * 86_400_000).toISOString();
      const many = await t.api.post('/admin/invite-codes', { count: 3, assigned_plan: 'team', trial_duration_days: 30, expires_at: expiresAt }, admin.accessToken);
      assert.equal(many.status, 201);
      assert.equal(many.body.length, 3);
      assert.equal(new Set(many.body.map((c: { code: string }) => c.code)).size, 3);
      for (const code of many.body) {
        assert.match(code.code, /^[A-Z0-9]{12}$/);
        assert.deepEqual(
          { plan: code.assigned_plan, days: code.trial_duration_days, expires: code.expires_at, used: code.used_at, by: code.used_by_id },
          { plan: 'team', days: 30, expires: expiresAt, used: null, by: null },
        );
      }
      const [audit] = await t.app.ctx.db.selectFrom('audit_logs').selectAll().where('action', '=', 'admin.invite_codes_created').orderBy('id', 'desc').limit(1).execute();
      assert.equal(audit?.user_id, admin.id);
      assert.equal(audit?.details.count, 3);
      assert.ok(!JSON.stringify(audit?.details).includes(many.body[0].code), 'codes stay out of the audit log');

      const code = many.body[0].code as string;
      const newcomer = await registerAndSignIn(t.api, { invite_code: code.toLowerCase() });
      const account = await t.api.get('/accounts/me', newcomer.accessToken);
      assert.equal(account.body.subscription.plan, 'team');
      assert.equal(account.body.subscription.status, 'trialing');

      const listed = await t.api.get('/admin/invite-codes', admin.accessToken);
      assert.equal(listed.status, 200);
      const used = listed.body.find((c: { code: string }) => c.code === code);
      assert.equal(used.used_by_id, newcomer.id);
      assert.equal(used.used_by_email, newcomer.email);
      assert.ok(used.used_at);
      assert.equal((await t.api.get('/admin/invite-codes?limit=1', admin.accessToken)).body.length, 1);
    });

    it('rejects bad invite-code requests with 422 and writes nothing', async () => {
      const before = await count('invite_codes');
      const past = new Date(t.clock.now().getTime() - 1000).toISOString();
      for (const body of [
        { count: 0 }, { count: 101 }, { count: 1.5 }, { count: '3' }, { trial_duration_days: 10 },
        { assigned_plan: 'pro', trial_duration_days: 0 }, { assigned_plan: 'bad plan!' }, { assigned_plan: '' },
        { expires_at: past }, { expires_at: 'tomorrow' },
      ]) {
        const response = await t.api.post('/admin/invite-codes', body, admin.accessToken);
        assert.equal(response.status, 422, JSON.stringify(body));
        assert.ok(Array.isArray(response.body.detail));
      }
      for (const query of ['limit=0', 'limit=501', 'limit=abc', 'offset=-1']) {
        assert.equal((await t.api.get(`/admin/invite-codes?${query}`, admin.accessToken)).status, 422, query);
      }
      assert.equal(await count('invite_codes'), before);
    });

    it('reads and changes settings, validated per key', async () => {
      assert.deepEqual((await t.api.get('/admin/settings', admin.accessToken)).body, { email_verification_enabled: true });
      const changed = await t.api.put('/admin/settings/email_verification_enabled', { value: false }, admin.accessToken);
      assert.equal(changed.status, 200);
      assert.deepEqual(changed.body, { key: 'email_verification_enabled', value: false });
      assert.deepEqual((await t.api.get('/admin/settings', admin.accessToken)).body, { email_verification_enabled: false });
      assert.deepEqual((await t.api.get('/auth/email/verification-status')).body, { enabled: false });
      const [audit] = await t.app.ctx.db.selectFrom('audit_logs').selectAll().where('action', '=', 'admin.setting_changed').execute();
      assert.deepEqual(audit?.details, { key: 'email_verification_enabled', from: true, to: false });

      const auditsBefore = await count('audit_logs');
      const unknown = await t.api.put('/admin/settings/no_such_key', { value: true }, admin.accessToken);
      assert.equal(unknown.status, 404);
      assert.equal(unknown.body.detail, 'Setting not found');
      for (const body of [{ value: 'yes' }, { value: 1 }, { value: null }, {}]) {
        const response = await t.api.put('/admin/settings/email_verification_enabled', body, admin.accessToken);
        assert.equal(response.status, 422, JSON.stringify(body));
      }
      assert.equal(await count('audit_logs'), auditsBefore);
      assert.deepEqual((await t.api.get('/admin/settings', admin.accessToken)).body, { email_verification_enabled: false });
      assert.equal((await t.api.put('/admin/settings/email_verification_enabled', { value: true }, admin.accessToken)).status, 200);
    });

    it('lists users with search and paging', async () => {
      const tag = `zq${randomUUID().slice(0, 6)}`;
      const found = [await registerAndSignIn(t.api, { email: uniqueEmail(tag) }), await registerAndSignIn(t.api, { name: `Name ${tag}` })];
      const all = await t.api.get(`/admin/users?q=${tag.toUpperCase()}`, admin.accessToken);
      assert.equal(all.status, 200);
      assert.deepEqual(all.body.map((u: { id: string }) => u.id).sort(), found.map((u) => u.id).sort());
      assert.ok(all.body.every((u: Record<string, unknown>) => !('password_hash' in u)));
      const first = await t.api.get(`/admin/users?q=${tag}&limit=1`, admin.accessToken);
      const second = await t.api.get(`/admin/users?q=${tag}&limit=1&offset=1`, admin.accessToken);
      assert.equal(first.body.length, 1);
      assert.equal(second.body.length, 1);
      assert.notEqual(first.body[0].id, second.body[0].id);
      assert.deepEqual((await t.api.get(`/admin/users?q=${encodeURIComponent('%')}`, admin.accessToken)).body, [], 'LIKE wildcards are literal');
      for (const query of ['limit=0', 'limit=201', 'limit=x', 'offset=1.5']) {
        assert.equal((await t.api.get(`/admin/users?${query}`, admin.accessToken)).status, 422, query);
      }
    });

    it('deactivation ends the user’s access and refresh tokens at once', async () => {
      const victim = await registerAndSignIn(t.api);
      const second = await signIn(t.api, victim.email);
      const response = await t.api.patch(`/admin/users/${victim.id}`, { is_active: false }, admin.accessToken);
      assert.equal(response.status, 200);
      assert.equal(response.body.is_active, false);
      for (const token of [victim.accessToken, second.accessToken]) assert.equal((await t.api.get('/auth/me', token)).status, 401);
      for (const token of [victim.refreshToken, second.refreshToken]) {
        const refreshed = await t.api.post('/auth/refresh', { refresh_token: token });
        assert.ok([401, 403].includes(refreshed.status), `refresh answered ${refreshed.status}`);
        assert.equal(refreshed.body.access_token, undefined);
      }
      const login = await t.api.post('/auth/login/json', { email: victim.email, password: PASSWORD });
      assert.equal(login.status, 403);
      assert.equal(login.body.detail, 'Inactive user');
      const [audit] = await t.app.ctx.db.selectFrom('audit_logs').selectAll().where('action', '=', 'admin.user_updated').where('resource_id', '=', victim.id).execute();
      assert.equal(audit?.user_id, admin.id);
      assert.deepEqual(audit?.details.changes, { is_active: { from: true, to: false } });

      assert.equal((await t.api.patch(`/admin/users/${victim.id}`, { is_active: true }, admin.accessToken)).body.is_active, true);
      assert.equal((await t.api.post('/auth/login/json', { email: victim.email, password: PASSWORD })).status, 200);
      const revived = await t.api.post('/auth/refresh', { refresh_token: victim.refreshToken });
      assert.equal(revived.status, 401, 'reactivation does not revive old refresh tokens');
    });

    it('bootstraps one admin when several instances start at once with the same BOOTSTRAP_ADMIN_*', async () => {
      // Each start looks the email up, hashes, then creates: the others' look-ups (outside and
      // inside createUser's transaction) may come after the first commit. None may fail the start.
      const email = uniqueEmail('bootstrap');
      const outcomes = await Promise.all([1, 2, 3].map(() => ensureAdmin(t.app.ctx, { email, password: PASSWORD })));
      assert.equal(outcomes.filter((o) => o.created).length, 1);
      assert.equal(new Set(outcomes.map((o) => o.user.id)).size, 1);
      assert.ok(outcomes.every((o) => o.user.role === 'admin'));
    });

    it('grants and removes the admin role; an admin cannot deactivate or demote themself', async () => {
      const helper = await registerAndSignIn(t.api);
      assert.equal((await t.api.patch(`/admin/users/${helper.id}`, { role: 'admin' }, admin.accessToken)).body.role, 'admin');
      assert.equal((await t.api.get('/admin/settings', helper.accessToken)).status, 200, 'the role applies to live tokens');
      assert.equal((await t.api.patch(`/admin/users/${helper.id}`, { role: 'engineer' }, admin.accessToken)).body.role, 'engineer');
      assert.equal((await t.api.get('/admin/settings', helper.accessToken)).status, 403);

      const selfDeactivate = await t.api.patch(`/admin/users/${admin.id}`, { is_active: false }, admin.accessToken);
      assert.equal(selfDeactivate.status, 400);
      assert.equal(selfDeactivate.body.detail, 'You cannot deactivate your own account');
      const selfDemote = await t.api.patch(`/admin/users/${admin.id}`, { role: 'engineer' }, admin.accessToken);
      assert.equal(selfDemote.status, 400);
      assert.equal(selfDemote.body.detail, 'You cannot remove your own admin role');
      assert.equal((await t.api.get('/auth/me', admin.accessToken)).body.role, 'admin');

      const unknown = await t.api.patch(`/admin/users/${randomUUID()}`, { is_active: false }, admin.accessToken);
      assert.equal(unknown.status, 404);
      assert.equal(unknown.body.detail, 'User not found');
      for (const [id, body] of [
        ['nope', { is_active: false }], [`urn:uuid:${helper.id}`, { is_active: false }],
        [helper.id, { role: 'root' }], [helper.id, { is_active: 'no' }],
      ] as const) {
        assert.equal((await t.api.patch(`/admin/users/${id}`, body, admin.accessToken)).status, 422, `${id} ${JSON.stringify(body)}`);
      }
      assert.equal((await t.api.get('/auth/me', helper.accessToken)).body.is_active, true);
    });

    it('lists the audit log newest first, filtered, with cursor paging', async () => {
      for (let i = 0; i < 5; i++) {
        await t.api.put('/admin/settings/email_verification_enabled', { value: i % 2 === 0 }, admin.accessToken);
      }
      const all = await t.api.get(`/admin/audit-logs?action=admin.setting_changed&user_id=${admin.id}&limit=200`, admin.accessToken);
      assert.equal(all.status, 200);
      assert.ok(all.body.length >= 5);
      assert.ok(all.body.every((row: { action: string; user_id: string }) => row.action === 'admin.setting_changed' && row.user_id === admin.id));
      assert.equal(typeof all.body[0].id, 'string');
      const ids = all.body.map((row: { id: string }) => BigInt(row.id));
      assert.deepEqual(ids, [...ids].sort((a: bigint, b: bigint) => (a > b ? -1 : 1)), 'newest first');

      const pages: string[] = [];
      let before: string | undefined;
      for (;;) {
        const page = await t.api.get(`/admin/audit-logs?action=admin.setting_changed&limit=2${before ? `&before=${before}` : ''}`, admin.accessToken);
        assert.equal(page.status, 200);
        if (page.body.length === 0) break;
        assert.ok(page.body.length <= 2);
        pages.push(...page.body.map((row: { id: string }) => row.id));
        before = page.body[page.body.length - 1].id;
      }
      assert.deepEqual(pages, all.body.map((row: { id: string }) => row.id), 'pages cover the list exactly once');

      const byUser = await t.api.get(`/admin/audit-logs?user_id=${user.id}`, admin.accessToken);
      assert.ok(byUser.body.length > 0 && byUser.body.every((row: { user_id: string }) => row.user_id === user.id));
      const now = t.clock.now().getTime();
      const past = new Date(now - 86_400_000).toISOString();
      const future = new Date(now + 86_400_000).toISOString();
      assert.deepEqual((await t.api.get(`/admin/audit-logs?until=${past}`, admin.accessToken)).body, []);
      assert.equal((await t.api.get(`/admin/audit-logs?since=${past}&until=${future}&limit=1`, admin.accessToken)).body.length, 1);

      for (const query of ['before=abc', 'before=-1', 'before=9223372036854775808', 'before=99999999999999999999', 'limit=0',
        'limit=201', 'user_id=nope', 'since=yesterday', 'until=0000-01-01T00:00:00Z']) {
        const response = await t.api.get(`/admin/audit-logs?${query}`, admin.accessToken);
        assert.equal(response.status, 422, query);
      }
      assert.deepEqual((await t.api.get(`/admin/audit-logs?before=1`, admin.accessToken)).body, []);
    });
  });
}
