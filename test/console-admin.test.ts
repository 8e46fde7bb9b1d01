// The admin console (/ui/admin) without a browser: who may open it (signed out → sign-in,
// a non-admin → 403 page), CSRF on its forms, and each action's effect and audit row (the
// console's rows say `via: console`). Browser flows: console-admin-browser.test.ts.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ensureAdmin } from '../src/modules/admin/create-admin.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { DATABASE_KINDS } from './helpers/database.js';
import { PASSWORD, registerUser, signIn, uniqueEmail } from './helpers/fixtures.js';
import { PageClient, pageSignIn } from './helpers/page-client.js';
import { freePort } from './helpers/ports.js';
import { startReceiver, type Receiver } from './helpers/webhook-receiver.js';
import { createScimToken } from '../src/modules/scim/scim-tokens.service.js';
import { pastPrefix } from '../src/modules/admin/admin-users.repo.js';

const UI_ENV = { HOSTED_UI_ENABLED: 'true', FRONTEND_URL: '', WEBHOOK_ALLOW_INSECURE_URLS: 'true' };

for (const kind of DATABASE_KINDS) {
  describe(`admin console (${kind})`, () => {
    let t: TestApp;
    let admin: PageClient;
    let adminId: string;
    let receiver: Receiver;

    before(async () => {
      // The OpenID Provider on (and PUBLIC_URL known before the start, as it needs) for the clients' pages.
      const port = await freePort();
      t = await startTestApp(kind, { port, env: { ...UI_ENV, OIDC_PROVIDER_ENABLED: 'true', PUBLIC_URL: `http://127.0.0.1:${port}` } });
      const email = uniqueEmail('admin');
      adminId = (await ensureAdmin(t.app.ctx, { email, password: PASSWORD, name: 'Ada Admin' })).user.id;
      admin = await pageSignIn(t.baseUrl, email);
      receiver = await startReceiver();
    });
    after(async () => {
      await receiver.close();
      await t.close();
    });

    const userId = async (email: string) => (await t.app.ctx.db.selectFrom('users').select('id').where('email', '=', email).executeTakeFirstOrThrow()).id;
    const auditOf = (action: string) =>
      t.app.ctx.db.selectFrom('audit_logs').selectAll().where('action', '=', action).orderBy('id', 'desc').executeTakeFirst();

    test('an admin finds the console from the account page; others see no link to it', async () => {
      assert.match((await admin.get('/ui/account')).html, /<a href="\/ui\/admin">Admin console<\/a>/);
      const { email } = await registerUser(t.api);
      assert.doesNotMatch((await (await pageSignIn(t.baseUrl, email)).get('/ui/account')).html, /Admin console/);
    });

    test('signed out: the sign-in page, coming back to the console page', async () => {
      const browser = new PageClient(t.baseUrl);
      const response = await browser.get('/ui/admin/users');
      assert.equal(response.status, 303);
      assert.equal(response.location, '/ui/sign-in?next=%2Fui%2Fadmin%2Fusers');
    });

    test('a user who is not a platform admin (an account owner or member alike) gets a 403 page, for pages and forms', async () => {
      const { email } = await registerUser(t.api);
      const browser = await pageSignIn(t.baseUrl, email);
      const target = await userId(email);
      for (const path of ['/ui/admin', '/ui/admin/users', `/ui/admin/users/${target}`, '/ui/admin/audit', '/ui/admin/webhooks', '/ui/admin/keys', `/ui/admin/users/${target}/delete`]) {
        const response = await browser.get(path);
        assert.equal(response.status, 403, path);
        assert.match(response.html, /You cannot open this page/);
        assert.doesNotMatch(response.html, /Admin console/);
      }
      await browser.get('/ui/account');
      const post = await browser.post(`/ui/admin/users/${target}/deactivate`, {});
      assert.equal(post.status, 403);
      const row = await t.app.ctx.db.selectFrom('users').select('is_active').where('id', '=', target).executeTakeFirstOrThrow();
      assert.equal(row.is_active, true);
    });

    test('a form without the page\'s CSRF token is refused, and nothing changes', async () => {
      const { email } = await registerUser(t.api);
      const target = await userId(email);
      await admin.get(`/ui/admin/users/${target}`);
      for (const token of ['', 'forged']) {
        const response = await admin.post(`/ui/admin/users/${target}/deactivate`, { _csrf: token });
        assert.equal(response.status, 403);
        assert.match(response.html, /This form has expired/);
      }
      const row = await t.app.ctx.db.selectFrom('users').select('is_active').where('id', '=', target).executeTakeFirstOrThrow();
      assert.equal(row.is_active, true);
    });

    test('users: search by email prefix, keyset pages that neither skip nor repeat', async () => {
      const prefix = `pager-${Date.now().toString(36)}`;
      const emails: string[] = [];
      for (let i = 0; i < 53; i++) emails.push((await registerUser(t.api, { email: `${prefix}-${String(i).padStart(2, '0')}@example.com` })).email);
      const seen: string[] = [];
      let path = `/ui/admin/users?q=${prefix}`;
      for (let pages = 0; pages < 3 && path; pages++) {
        const response = await admin.get(path);
        assert.equal(response.status, 200);
        seen.push(...[...response.html.matchAll(/<a href="\/ui\/admin\/users\/[0-9a-f-]+">([^<]+)<\/a>/g)].map((m) => m[1]!));
        path = /<a class="button button-secondary" href="([^"]+)" rel="next">/.exec(response.html)?.[1]?.replaceAll('&amp;', '&') ?? '';
      }
      assert.deepEqual(seen, [...emails].sort());
      const none = await admin.get('/ui/admin/users?q=nobody-has-this-prefix');
      assert.match(none.html, /No user’s email starts with that/);
    });

    test('users: a prefix is taken literally (LIKE wildcards match themselves), and ends where the prefix does', async () => {
      const stamp = Date.now().toString(36);
      const literal = (await registerUser(t.api, { email: `lit_${stamp}@example.com` })).email;
      const wildcardMatch = (await registerUser(t.api, { email: `litx${stamp}@example.com` })).email;
      const inside = (await registerUser(t.api, { email: `end${stamp}1z@example.com` })).email;
      await registerUser(t.api, { email: `end${stamp}2@example.com` }); // the first email past the prefix
      const listed = async (q: string) => [...(await admin.get(`/ui/admin/users?q=${encodeURIComponent(q)}`)).html.matchAll(/<a href="\/ui\/admin\/users\/[0-9a-f-]+">([^<]+)<\/a>/g)].map((m) => m[1]!);
      assert.deepEqual(await listed(`lit_${stamp}`), [literal]);
      assert.ok(!(await listed('lit_')).includes(wildcardMatch));
      assert.deepEqual(await listed(`end${stamp}1`), [inside]);
      assert.deepEqual(pastPrefix('ab'), 'ac');
      assert.deepEqual(pastPrefix('a\u{d7ff}'), 'a\u{e000}');
      assert.deepEqual(pastPrefix('é'), 'ê');
      assert.deepEqual(pastPrefix('a\u{10ffff}'), 'b', 'the last code point carries');
    });

    test('users: end sessions, reset MFA, deactivate, reactivate, delete: each takes effect and is audited via the console', async () => {
      const { email } = await registerUser(t.api);
      const target = await userId(email);
      await signIn(t.api, email);
      const page = await admin.get(`/ui/admin/users/${target}`);
      assert.equal(page.status, 200);
      assert.match(page.html, new RegExp(email));
      // A session whose user agent names no browser (this test's fetch) is an unknown device, not "null on null".
      assert.match(page.html, /Unknown device/);
      assert.doesNotMatch(page.html, /null/);

      // Each destructive action has a confirmation page whose form posts the action.
      for (const action of ['end-sessions', 'reset-mfa', 'deactivate', 'delete']) {
        const confirm = await admin.get(`/ui/admin/users/${target}/${action}`);
        assert.equal(confirm.status, 200, action);
        assert.match(confirm.html, new RegExp(`action="/ui/admin/users/${target}/${action}"`));
      }

      const live = async () => (await t.app.ctx.db.selectFrom('sessions').select('id').where('user_id', '=', target).where('revoked_at', 'is', null).execute()).length;
      assert.equal(await live(), 1);
      const ended = await admin.post(`/ui/admin/users/${target}/end-sessions`, {});
      assert.equal(ended.status, 303);
      assert.equal(ended.location, `/ui/admin/users/${target}`);
      assert.match((await admin.get(ended.location!)).html, /One session ended/);
      assert.equal(await live(), 0);
      const endedRow = await auditOf('admin.user_sessions_revoked');
      assert.equal(endedRow?.user_id, adminId);
      assert.equal(endedRow?.resource_id, target);
      assert.equal(endedRow?.details.via, 'console');

      await admin.post(`/ui/admin/users/${target}/reset-mfa`, {});
      const mfaRow = await auditOf('admin.user_mfa_reset');
      assert.equal(mfaRow?.resource_id, target);
      assert.equal(mfaRow?.details.via, 'console');

      await admin.post(`/ui/admin/users/${target}/deactivate`, {});
      const user = () => t.app.ctx.db.selectFrom('users').select('is_active').where('id', '=', target).executeTakeFirst();
      assert.equal((await user())?.is_active, false);
      assert.deepEqual((await auditOf('admin.user_updated'))?.details, { changes: { is_active: { from: true, to: false } }, sessions_revoked: true, via: 'console' });
      assert.notEqual((await t.api.post('/auth/login/json', { email, password: PASSWORD })).status, 200);

      await admin.get(`/ui/admin/users/${target}`);
      await admin.post(`/ui/admin/users/${target}/reactivate`, {});
      assert.equal((await user())?.is_active, true);
      assert.deepEqual((await auditOf('admin.user_updated'))?.details.changes, { is_active: { from: false, to: true } });

      const deleted = await admin.post(`/ui/admin/users/${target}/delete`, {});
      assert.equal(deleted.location, '/ui/admin/users');
      assert.equal(await user(), undefined);
      assert.equal((await auditOf('admin.user_deleted'))?.details.via, 'console');
      assert.equal((await admin.get(`/ui/admin/users/${target}`)).status, 404);
    });

    test('an admin cannot deactivate or delete themself: the service\'s refusal, shown on the page', async () => {
      await admin.get(`/ui/admin/users/${adminId}`);
      const response = await admin.post(`/ui/admin/users/${adminId}/deactivate`, {});
      assert.equal(response.status, 303);
      const page = await admin.get(response.location!);
      assert.match(page.html, /role="alert"/);
      const row = await t.app.ctx.db.selectFrom('users').select('is_active').where('id', '=', adminId).executeTakeFirstOrThrow();
      assert.equal(row.is_active, true);
    });

    test('signing keys: rotate and revoke, audited with the admin as actor', async () => {
      const before = await t.app.ctx.db.selectFrom('signing_keys').select(['kid', 'state']).execute();
      const current = before.find((k) => k.state === 'current')!.kid;
      await admin.get('/ui/admin/keys');
      assert.match((await admin.get('/ui/admin/keys/rotate')).html, /Rotate now/);
      const rotated = await admin.post('/ui/admin/keys/rotate', {});
      assert.equal(rotated.status, 303);
      const after = await t.app.ctx.db.selectFrom('signing_keys').select(['kid', 'state']).execute();
      assert.equal(after.find((k) => k.kid === current)?.state, 'previous');
      const row = await auditOf('keys.rotated');
      assert.equal(row?.user_id, adminId);
      assert.equal(row?.details.via, 'console');

      await admin.get(`/ui/admin/keys/${current}/revoke`);
      await admin.post(`/ui/admin/keys/${current}/revoke`, {});
      const revoked = await t.app.ctx.db.selectFrom('signing_keys').select('state').where('kid', '=', current).executeTakeFirstOrThrow();
      assert.equal(revoked.state, 'revoked');
      assert.equal((await auditOf('keys.revoked'))?.resource_id, current);
    });

    test('webhooks: add one (its secret shown once), send a test event and see the delivery, rotate its secret, delete it', async () => {
      await admin.get('/ui/admin/webhooks/new');
      const created = await admin.post('/ui/admin/webhooks', { url: `${receiver.url}/hook`, description: 'Test receiver' });
      assert.equal(created.status, 200);
      const secret = /id="secret-webhook" type="text" readonly value="([^"]+)"/.exec(created.html)?.[1];
      assert.ok(secret?.startsWith('whsec_'), 'the secret is on the page');
      const endpoint = await t.app.ctx.db.selectFrom('webhook_endpoints').select(['id', 'secret']).orderBy('created_at', 'desc').executeTakeFirstOrThrow();
      assert.notEqual(endpoint.secret, secret, 'sealed at rest');
      assert.equal((await auditOf('webhook.endpoint_created'))?.details.via, 'console');
      const page = await admin.get(`/ui/admin/webhooks/${endpoint.id}`);
      assert.doesNotMatch(page.html, new RegExp(secret!), 'never shown again');

      await admin.post(`/ui/admin/webhooks/${endpoint.id}/test`, {});
      let shown = '';
      for (let i = 0; i < 50 && !/succeeded/.test(shown); i++) {
        shown = (await admin.get(`/ui/admin/webhooks/${endpoint.id}`)).html;
        if (!/succeeded/.test(shown)) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.match(shown, /webhook\.test/);
      assert.match(shown, /succeeded/);
      assert.equal(JSON.parse(receiver.received.at(-1)!.body).type, 'webhook.test');

      await admin.get(`/ui/admin/webhooks/${endpoint.id}/rotate-secret`);
      const rotated = await admin.post(`/ui/admin/webhooks/${endpoint.id}/rotate-secret`, {});
      const second = /id="secret-webhook" type="text" readonly value="([^"]+)"/.exec(rotated.html)?.[1];
      assert.ok(second && second !== secret);
      assert.equal((await auditOf('webhook.secret_rotated'))?.details.via, 'console');

      await admin.get(`/ui/admin/webhooks/${endpoint.id}/delete`);
      assert.equal((await admin.post(`/ui/admin/webhooks/${endpoint.id}/delete`, {})).location, '/ui/admin/webhooks');
      assert.equal(await t.app.ctx.db.selectFrom('webhook_endpoints').select('id').where('id', '=', endpoint.id).executeTakeFirst(), undefined);
    });

    test('webhooks: a URL the service refuses comes back with the reason next to the field', async () => {
      await admin.get('/ui/admin/webhooks/new');
      const response = await admin.post('/ui/admin/webhooks', { url: 'ftp://example.com/x' });
      assert.equal(response.status, 303);
      const page = await admin.get(response.location!);
      assert.match(page.html, /field-error/);
      assert.match(page.html, /value="ftp:\/\/example.com\/x"/);
    });

    test('audit log: filters by user, action and day, keyset-paged', async () => {
      const response = await admin.get(`/ui/admin/audit?action=admin.user_sessions_revoked`);
      assert.equal(response.status, 200);
      assert.match(response.html, /admin\.user_sessions_revoked/);
      assert.doesNotMatch(response.html, /<code>keys\.rotated<\/code>/);
      const mine = await admin.get(`/ui/admin/audit?user=${encodeURIComponent((await t.app.ctx.db.selectFrom('users').select('email').where('id', '=', adminId).executeTakeFirstOrThrow()).email)}`);
      assert.match(mine.html, /auth\.login/);
      const future = await admin.get('/ui/admin/audit?since=2999-01-01');
      assert.match(future.html, /No events match/);
      const unknown = await admin.get('/ui/admin/audit?user=nobody@example.com');
      assert.match(unknown.html, /No user nobody@example.com/);
    });

    test('accounts: search by name prefix, see one with its members and SCIM tokens, revoke a token', async () => {
      const { email } = await registerUser(t.api, { name: 'Zoe Owner' });
      const owner = await t.app.ctx.db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirstOrThrow();
      const name = `Zenith ${Date.now().toString(36)}`;
      await t.app.ctx.db.updateTable('accounts').set({ name }).where('id', '=', owner.account_id).execute();
      const token = await createScimToken(t.app.ctx, { actor: owner, input: { description: 'Okta' }, meta: { ip: null, userAgent: null } });

      const list = await admin.get(`/ui/admin/accounts?q=${encodeURIComponent(name.slice(0, 9).toLowerCase())}`);
      assert.match(list.html, new RegExp(`href="/ui/admin/accounts/${owner.account_id}">${name}<`));
      const page = await admin.get(`/ui/admin/accounts/${owner.account_id}`);
      assert.equal(page.status, 200);
      assert.match(page.html, new RegExp(email));
      assert.match(page.html, /Okta/);

      await admin.get(`/ui/admin/accounts/${owner.account_id}/scim-tokens/${token.id}/revoke`);
      const revoked = await admin.post(`/ui/admin/accounts/${owner.account_id}/scim-tokens/${token.id}/revoke`, {});
      assert.equal(revoked.location, `/ui/admin/accounts/${owner.account_id}`);
      assert.equal(await t.app.ctx.db.selectFrom('scim_tokens').select('id').where('id', '=', token.id).executeTakeFirst(), undefined);
      const row = await auditOf('scim.token_deleted');
      assert.equal(row?.user_id, adminId);
      assert.deepEqual(row?.details, { account_id: owner.account_id, via: 'console' });
    });

    test('invite codes and settings: created and changed through the admin services, audited via the console', async () => {
      await admin.get('/ui/admin/invite-codes');
      const created = await admin.post('/ui/admin/invite-codes', { count: '2', assigned_plan: 'pro', trial_duration_days: '14', expires_on: '' });
      const notice = (await admin.get(created.location!)).html;
      assert.match(notice, /Created 2 invite codes/);
      assert.equal((await auditOf('admin.invite_codes_created'))?.details.via, 'console');
      const bad = await admin.post('/ui/admin/invite-codes', { count: '500' });
      assert.match((await admin.get(bad.location!)).html, /field-error/);

      await admin.get('/ui/admin/settings');
      const saved = await admin.post('/ui/admin/settings', {});
      assert.match((await admin.get(saved.location!)).html, /Settings saved/);
      const row = await auditOf('admin.setting_changed');
      assert.equal(row?.details.via, 'console');
      assert.equal((await t.app.ctx.db.selectFrom('platform_settings').select('value').where('key', '=', 'email_verification_enabled').executeTakeFirstOrThrow()).value, false);
      await admin.post('/ui/admin/settings', { email_verification_enabled: 'on' });
    });

    test('OAuth clients: register one (its secret shown once), rotate its secret, delete it', async () => {
      await admin.get('/ui/admin/oauth-clients/new');
      const created = await admin.post('/ui/admin/oauth-clients', { name: 'Dashboard', kind: 'web', redirect_uris: 'https://dashboard.example.com/callback', scopes: 'openid email' });
      assert.equal(created.status, 200);
      const secret = /id="secret-client" type="text" readonly value="([^"]+)"/.exec(created.html)?.[1];
      assert.ok(secret);
      const client = await t.app.ctx.db.selectFrom('oauth_clients').select('client_id').where('name', '=', 'Dashboard').executeTakeFirstOrThrow();
      assert.equal((await auditOf('oidc.client_created'))?.details.via, 'console');
      assert.doesNotMatch((await admin.get(`/ui/admin/oauth-clients/${client.client_id}`)).html, new RegExp(secret));

      await admin.get(`/ui/admin/oauth-clients/${client.client_id}/rotate-secret`);
      const rotated = await admin.post(`/ui/admin/oauth-clients/${client.client_id}/rotate-secret`, {});
      assert.notEqual(/id="secret-client" type="text" readonly value="([^"]+)"/.exec(rotated.html)?.[1], secret);
      await admin.get(`/ui/admin/oauth-clients/${client.client_id}/delete`);
      assert.equal((await admin.post(`/ui/admin/oauth-clients/${client.client_id}/delete`, {})).location, '/ui/admin/oauth-clients');
      assert.equal((await auditOf('oidc.client_deleted'))?.details.via, 'console');
    });

    test('the console\'s pages are HTML, left out of the OpenAPI document as the hosted pages are', async () => {
      const doc = (await (await fetch(`${t.baseUrl}/openapi.json`)).json()) as { paths: Record<string, unknown> };
      assert.deepEqual(Object.keys(doc.paths).filter((path) => path.startsWith('/ui/')), []);
    });
  });
}
