// The customer admin's console, /ui/account/organization (API.md "Console"), without a
// browser: who may open it (owner and admins; members and people signed out may not), CSRF on
// every form, each action's effect and its audit row (the API's, with details.via 'console'),
// and tenant isolation (another account's ids are 404 pages). The account page's navigation
// and "Apps with access" too. Browser flows: console-org-browser.test.ts.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { rememberConsent } from '../src/modules/oidc-provider/apps.service.js';
import { DATABASE_KINDS } from './helpers/database.js';
import { startDnsServer, type TestDnsServer } from './helpers/dns-server.js';
import { registerAndSignIn, uniqueEmail, type SignedInUser } from './helpers/fixtures.js';
import { registerClient, startProviderApp, type ProviderApp } from './helpers/oidc-rp.js';
import { PageClient, pageSignIn } from './helpers/page-client.js';
import { TestSamlIdp } from './helpers/saml-idp.js';

const ORG = '/ui/account/organization';

for (const kind of DATABASE_KINDS) {
  describe(`organization console (${kind})`, () => {
    let t: ProviderApp;
    let dns: TestDnsServer;

    before(async () => {
      dns = await startDnsServer();
      t = await startProviderApp(kind, { env: { HOSTED_UI_ENABLED: 'true', DNS_SERVERS: dns.address } });
    });
    after(async () => {
      await t.close();
      await dns.close();
    });

    /** Invites a new address into `by`'s account through the API and registers it. */
    async function join(by: SignedInUser, role: 'admin' | 'member'): Promise<SignedInUser> {
      const email = uniqueEmail(role);
      const invited = await t.api.post('/accounts/me/invites', { email, role }, by.accessToken);
      assert.equal(invited.status, 201, JSON.stringify(invited.body));
      return registerAndSignIn(t.api, { email, account_invite_code: invited.body.code });
    }

    /** A browser signed in as `user`, on the console page `path` (so its CSRF token is at hand). */
    async function consoleAs(user: SignedInUser, path = ORG): Promise<PageClient> {
      const browser = await pageSignIn(t.baseUrl, user.email);
      const page = await browser.get(path);
      assert.equal(page.status, 200, page.html.slice(0, 300));
      return browser;
    }

    const audit = (action: string, resourceId: string) =>
      t.app.ctx.db.selectFrom('audit_logs').select(['user_id', 'details']).where('action', '=', action).where('resource_id', '=', resourceId).execute();

    async function assertConsoleAudit(action: string, resourceId: string, actorId: string) {
      const rows = await audit(action, resourceId);
      assert.equal(rows.length, 1, `one ${action} row for ${resourceId}`);
      assert.equal(rows[0]!.user_id, actorId);
      assert.equal((rows[0]!.details as { via?: string }).via, 'console', `${action} is marked as made in the console`);
    }

    const newDomain = () => `corp-${randomBytes(4).toString('hex')}.test`;

    test('signed out: every console page sends the browser to sign in, and back', async () => {
      const browser = new PageClient(t.baseUrl);
      for (const path of [ORG, `${ORG}/domains`, `${ORG}/sso`, `${ORG}/scim`]) {
        const response = await browser.get(path);
        assert.equal(response.status, 303);
        assert.equal(response.location, `/ui/sign-in?next=${path}`);
      }
      const owner = await registerAndSignIn(t.api);
      await browser.get(`/ui/sign-in?next=${ORG}/domains`);
      const signedIn = await browser.post('/ui/sign-in', { email: owner.email, password: owner.password, next: `${ORG}/domains` });
      assert.equal(signedIn.location, `${ORG}/domains`);
    });

    test('a member gets 403 pages, on reading and on every form, and nothing changes', async () => {
      const owner = await registerAndSignIn(t.api);
      const member = await join(owner, 'member');
      const browser = await pageSignIn(t.baseUrl, member.email);
      for (const path of [ORG, `${ORG}/domains`, `${ORG}/sso`, `${ORG}/scim`]) {
        const response = await browser.get(path);
        assert.equal(response.status, 403, path);
        assert.match(response.html, /Only the owner and the admins of your organization can manage it/);
      }
      // The account page offers no way in either.
      const account = await browser.get('/ui/account');
      assert.doesNotMatch(account.html, /href="\/ui\/account\/organization"/);
      const before = await t.app.ctx.db.selectFrom('account_invites').select('id').execute();
      for (const [path, form] of [
        [`${ORG}/invites`, { email: uniqueEmail(), role: 'member' }],
        [`${ORG}/domains`, { domain: newDomain() }],
        [`${ORG}/scim/tokens`, {}],
        [`${ORG}/sso/policy`, { enforced: 'on', confirmed: 'yes', default_role: 'member' }],
      ] as const) {
        assert.equal((await browser.post(path, form)).status, 403, path);
      }
      assert.equal((await t.app.ctx.db.selectFrom('account_invites').select('id').execute()).length, before.length);
      assert.equal((await t.api.get('/accounts/me/scim-tokens', owner.accessToken)).body.length, 0);
    });

    test('every form refuses a post without the page\'s CSRF token, and nothing happens', async () => {
      const owner = await registerAndSignIn(t.api);
      const browser = await consoleAs(owner);
      const forms: Array<[string, Record<string, string>]> = [
        [`${ORG}/invites`, { email: uniqueEmail(), role: 'member' }],
        [`${ORG}/members/${randomUUID()}/role`, { account_role: 'admin' }],
        [`${ORG}/members/${randomUUID()}/remove`, {}],
        [`${ORG}/invites/${randomUUID()}/revoke`, {}],
        [`${ORG}/domains`, { domain: newDomain() }],
        [`${ORG}/domains/${randomUUID()}/verify`, {}],
        [`${ORG}/domains/${randomUUID()}/delete`, {}],
        [`${ORG}/sso/saml`, { name: 'x', metadata_xml: new TestSamlIdp().metadata() }],
        [`${ORG}/sso/oidc`, { name: 'x', issuer: 'https://idp.example.com', client_id: 'a', client_secret: 'b' }],
        [`${ORG}/sso/policy`, { enforced: 'on', confirmed: 'yes', default_role: 'member' }],
        [`${ORG}/sso/${randomUUID()}/enabled`, { enabled: 'false' }],
        [`${ORG}/sso/${randomUUID()}/delete`, {}],
        [`${ORG}/scim/tokens`, { description: 'x' }],
        [`${ORG}/scim/tokens/${randomUUID()}/revoke`, {}],
      ];
      for (const [path, form] of forms) {
        for (const token of ['', 'forged']) {
          const response = await browser.post(path, { ...form, _csrf: token });
          assert.equal(response.status, 403, `${path} with _csrf=${JSON.stringify(token)}`);
          assert.match(response.html, /This form has expired/);
        }
      }
      assert.equal((await t.api.get('/accounts/me/invites', owner.accessToken)).body.length, 0);
      assert.equal((await t.api.get('/accounts/me/domains', owner.accessToken)).body.length, 0);
      assert.equal((await t.api.get('/accounts/me/sso-connections', owner.accessToken)).body.length, 0);
      assert.equal((await t.api.get('/accounts/me/sso-settings', owner.accessToken)).body.enforced, false);
      assert.equal((await t.api.get('/accounts/me/scim-tokens', owner.accessToken)).body.length, 0);
    });

    test('members and invites: invite, revoke behind a confirmation, change a role, remove someone; each audited as the console', async () => {
      const owner = await registerAndSignIn(t.api);
      const member = await join(owner, 'member');
      const browser = await consoleAs(owner);

      const email = uniqueEmail('invited');
      const invited = await browser.post(`${ORG}/invites`, { email, role: 'admin' });
      assert.equal(invited.location, `${ORG}#invites`);
      const page = await browser.get(ORG);
      assert.match(page.html, new RegExp(`We sent an invitation to ${email}`));
      const [invite] = (await t.api.get('/accounts/me/invites', owner.accessToken)).body as Array<{ id: string; email: string; role: string }>;
      assert.deepEqual([invite!.email, invite!.role], [email, 'admin']);
      await assertConsoleAudit('account.invite_created', invite!.id, owner.id);

      // A bad address comes back next to its field, with what was typed.
      const refused = await browser.post(`${ORG}/invites`, { email: 'not-an-address', role: 'member' });
      assert.equal(refused.location, `${ORG}#invite`);
      assert.match((await browser.get(ORG)).html, /value="not-an-address"[^>]*aria-invalid="true"/);

      const confirm = await browser.get(`${ORG}/invites/${invite!.id}/revoke`);
      assert.equal(confirm.status, 200);
      assert.match(confirm.html, new RegExp(`<form method="post" action="${ORG}/invites/${invite!.id}/revoke"`));
      assert.equal((await t.api.get('/accounts/me/invites', owner.accessToken)).body.length, 1, 'the confirmation page changes nothing');
      assert.equal((await browser.post(`${ORG}/invites/${invite!.id}/revoke`, {})).location, `${ORG}#invites`);
      assert.equal((await t.api.get('/accounts/me/invites', owner.accessToken)).body.length, 0);
      await assertConsoleAudit('account.invite_revoked', invite!.id, owner.id);

      await browser.get(ORG);
      assert.equal((await browser.post(`${ORG}/members/${member.id}/role`, { account_role: 'admin' })).location, `${ORG}#members`);
      const members = (await t.api.get('/accounts/me/members', owner.accessToken)).body as Array<{ id: string; account_role: string }>;
      assert.equal(members.find((m) => m.id === member.id)!.account_role, 'admin');
      await assertConsoleAudit('account.member_role_changed', member.id, owner.id);

      // The API's rules: an admin cannot demote the owner (the message comes back on the page).
      const admin = await consoleAs(member);
      assert.equal((await admin.post(`${ORG}/members/${owner.id}/role`, { account_role: 'member' })).location, `${ORG}#members`);
      assert.match((await admin.get(ORG)).html, /role="alert"><p>The account owner cannot be demoted</);
      assert.equal((await t.api.get('/accounts/me', owner.accessToken)).body.owner_id, owner.id);

      assert.match((await browser.get(`${ORG}/members/${member.id}/remove`)).html, /signed out everywhere/);
      assert.equal((await browser.post(`${ORG}/members/${member.id}/remove`, {})).location, `${ORG}#members`);
      const after = (await t.api.get('/accounts/me/members', owner.accessToken)).body as Array<{ id: string }>;
      assert.deepEqual(after.map((m) => m.id), [owner.id]);
      await assertConsoleAudit('account.member_removed', member.id, owner.id);
    });

    test('domains: the TXT record to add, Verify against the DNS server, removal behind a confirmation', async () => {
      const owner = await registerAndSignIn(t.api);
      const browser = await consoleAs(owner, `${ORG}/domains`);
      const domain = newDomain();
      const claimed = await browser.post(`${ORG}/domains`, { domain: domain.toUpperCase() });
      const [row] = (await t.api.get('/accounts/me/domains', owner.accessToken)).body as Array<{ id: string; verification: { name: string; value: string } }>;
      assert.equal(claimed.location, `${ORG}/domains#domain-${row!.id}`);
      await assertConsoleAudit('domain.claimed', row!.id, owner.id);
      const page = await browser.get(`${ORG}/domains`);
      assert.ok(page.html.includes(`readonly value="${row!.verification.name}"`), 'the record name is shown to copy');
      assert.ok(page.html.includes(`readonly value="${row!.verification.value}"`), 'the record value is shown to copy');

      // Not published yet: the page says so and nothing is verified.
      await browser.post(`${ORG}/domains/${row!.id}/verify`, {});
      assert.match((await browser.get(`${ORG}/domains`)).html, /did not find the TXT record/);
      assert.equal((await audit('domain.verified', row!.id)).length, 0);

      dns.txt.set(row!.verification.name, [row!.verification.value]);
      assert.equal((await browser.post(`${ORG}/domains/${row!.id}/verify`, {})).location, `${ORG}/domains#domain-${row!.id}`);
      assert.match((await browser.get(`${ORG}/domains`)).html, new RegExp(`${domain} is verified`));
      await assertConsoleAudit('domain.verified', row!.id, owner.id);

      // Shared mail domains are refused with the API's reason.
      await browser.post(`${ORG}/domains`, { domain: 'gmail.com' });
      assert.match((await browser.get(`${ORG}/domains`)).html, /Public-suffix and shared mail domains cannot be claimed/);

      assert.match((await browser.get(`${ORG}/domains/${row!.id}/delete`)).html, /Remove the domain/);
      assert.equal((await browser.post(`${ORG}/domains/${row!.id}/delete`, {})).location, `${ORG}/domains`);
      assert.equal((await t.api.get('/accounts/me/domains', owner.accessToken)).body.length, 0);
      await assertConsoleAudit('domain.deleted', row!.id, owner.id);
    });

    test('SSO: a SAML and an OIDC connection with their SP values, on and off, deleted; the policy and its confirmation', async () => {
      const owner = await registerAndSignIn(t.api);
      const browser = await consoleAs(owner, `${ORG}/sso`);
      const idp = new TestSamlIdp();
      const saml = await browser.post(`${ORG}/sso/saml`, { name: 'Corp SAML', metadata_xml: idp.metadata(), metadata_url: '' });
      const connections = (await t.api.get('/accounts/me/sso-connections', owner.accessToken)).body as Array<{ id: string; type: string; sp: Record<string, string>; idp_entity_id?: string }>;
      const created = connections.find((c) => c.type === 'saml')!;
      assert.equal(created.idp_entity_id, idp.entityId);
      assert.equal(saml.location, `${ORG}/sso/${created.id}`);
      await assertConsoleAudit('sso.connection_created', created.id, owner.id);
      const page = await browser.get(saml.location!);
      for (const value of [created.sp.entity_id, created.sp.acs_url, created.sp.metadata_url]) assert.ok(page.html.includes(`readonly value="${value}"`), `${value} is shown to copy`);
      assert.match(page.html, /data-copy="secret-sp-acs_url"/);

      const oidc = await browser.post(`${ORG}/sso/oidc`, { name: 'Corp OIDC', issuer: 'https://login.example.com', client_id: 'keyhold', client_secret: 'very-secret-value', scopes: 'openid email' });
      const oidcId = oidc.location!.split('/').pop()!;
      const oidcPage = await browser.get(oidc.location!);
      assert.ok(oidcPage.html.includes(`${t.issuer}/api/v1/auth/sso/oidc/callback`), 'the redirect URI is shown');
      assert.doesNotMatch(oidcPage.html, /very-secret-value/);
      const stored = (await t.api.get(`/accounts/me/sso-connections/${oidcId}`, owner.accessToken)).body;
      assert.deepEqual([stored.issuer, stored.client_id, stored.scopes], ['https://login.example.com', 'keyhold', ['openid', 'email']]);

      // Refused input comes back by its field; the secret is not carried back.
      await browser.post(`${ORG}/sso/oidc`, { name: 'Bad', issuer: 'not a url', client_id: 'x', client_secret: 'keep-me-out', scopes: '' });
      const refused = await browser.get(`${ORG}/sso`);
      assert.match(refused.html, /id="f-new-oidc-issuer"[^>]*aria-invalid="true"/);
      assert.doesNotMatch(refused.html, /keep-me-out/);

      await browser.post(`${ORG}/sso/${created.id}/enabled`, { enabled: 'false' });
      assert.equal((await t.api.get(`/accounts/me/sso-connections/${created.id}`, owner.accessToken)).body.enabled, false);
      await assertConsoleAudit('sso.connection_updated', created.id, owner.id);

      // Turning enforcement on asks first; the confirmation carries the form's choices.
      await browser.get(`${ORG}/sso`);
      const ask = await browser.post(`${ORG}/sso/policy`, { enforced: 'on', auto_join: 'on', default_role: 'admin' });
      assert.equal(ask.status, 200);
      assert.match(ask.html, /Require single sign-on\?/);
      assert.match(ask.html, /name="confirmed" value="yes"/);
      assert.equal((await t.api.get('/accounts/me/sso-settings', owner.accessToken)).body.enforced, false, 'nothing changed before the confirmation');
      const confirmed = await browser.post(`${ORG}/sso/policy`, { enforced: 'on', auto_join: 'on', default_role: 'admin', confirmed: 'yes' });
      assert.equal(confirmed.location, `${ORG}/sso#policy`);
      assert.deepEqual((await t.api.get('/accounts/me/sso-settings', owner.accessToken)).body, { enforced: true, auto_join: true, default_role: 'admin' });
      const me = (await t.api.get('/accounts/me', owner.accessToken)).body;
      const policyAudit = await audit('sso.settings_updated', me.id);
      assert.equal((policyAudit.at(-1)!.details as { via?: string }).via, 'console');
      // Turning it off needs no confirmation.
      await browser.get(`${ORG}/sso`);
      assert.equal((await browser.post(`${ORG}/sso/policy`, { default_role: 'member' })).status, 303);
      assert.equal((await t.api.get('/accounts/me/sso-settings', owner.accessToken)).body.enforced, false);

      assert.match((await browser.get(`${ORG}/sso/${created.id}/delete`)).html, /Delete the connection/);
      assert.equal((await browser.post(`${ORG}/sso/${created.id}/delete`, {})).location, `${ORG}/sso`);
      assert.equal((await t.api.get(`/accounts/me/sso-connections/${created.id}`, owner.accessToken)).status, 404);
      await assertConsoleAudit('sso.connection_deleted', created.id, owner.id);
    });

    test('SCIM tokens: issued and shown once, working, then revoked behind a confirmation', async () => {
      const owner = await registerAndSignIn(t.api);
      const browser = await consoleAs(owner, `${ORG}/scim`);
      const issued = await browser.post(`${ORG}/scim/tokens`, { description: 'Entra ID' });
      assert.equal(issued.status, 200);
      const token = /(khscim_[\w-]+)/.exec(issued.html)?.[1];
      assert.ok(token, 'the token is on the page');
      assert.match(issued.html, /shown only once/);
      assert.ok(issued.setCookies.every((line) => !line.includes(token)), 'never in a cookie');
      const [row] = (await t.api.get('/accounts/me/scim-tokens', owner.accessToken)).body as Array<{ id: string; description: string }>;
      assert.equal(row!.description, 'Entra ID');
      await assertConsoleAudit('scim.token_created', row!.id, owner.id);
      assert.ok(!(await browser.get(`${ORG}/scim`)).html.includes(token), 'shown once: not on the next page');

      const scim = (bearer: string) => fetch(`${t.baseUrl}/scim/v2/Users`, { headers: { authorization: `Bearer ${bearer}` } });
      assert.equal((await scim(token)).status, 200);
      assert.match((await browser.get(`${ORG}/scim/tokens/${row!.id}/revoke`)).html, /Revoke the SCIM token “Entra ID”\?/);
      assert.equal((await browser.post(`${ORG}/scim/tokens/${row!.id}/revoke`, {})).location, `${ORG}/scim#tokens`);
      assert.equal((await scim(token)).status, 401);
      await assertConsoleAudit('scim.token_deleted', row!.id, owner.id);
    });

    test("tenant isolation: an admin of A gets 404 pages for B's members, invites, domains, connections and tokens", async () => {
      const ownerA = await registerAndSignIn(t.api);
      const adminA = await join(ownerA, 'admin');
      const ownerB = await registerAndSignIn(t.api);
      const memberB = await join(ownerB, 'member');
      const inviteB = (await t.api.post('/accounts/me/invites', { email: uniqueEmail(), role: 'member' }, ownerB.accessToken)).body;
      const domainB = (await t.api.post('/accounts/me/domains', { domain: newDomain() }, ownerB.accessToken)).body;
      dns.txt.set(domainB.verification.name, [domainB.verification.value]);
      const connectionB = (await t.api.post('/accounts/me/sso-connections', { type: 'saml', name: 'B', metadata_xml: new TestSamlIdp().metadata() }, ownerB.accessToken)).body;
      const tokenB = (await t.api.post('/accounts/me/scim-tokens', {}, ownerB.accessToken)).body;

      const browser = await consoleAs(adminA);
      const reads = [
        `${ORG}/members/${memberB.id}/remove`,
        `${ORG}/invites/${inviteB.id}/revoke`,
        `${ORG}/domains/${domainB.id}/delete`,
        `${ORG}/sso/${connectionB.id}`,
        `${ORG}/sso/${connectionB.id}/delete`,
        `${ORG}/scim/tokens/${tokenB.id}/revoke`,
        `${ORG}/sso/not-a-uuid`,
      ];
      for (const path of reads) assert.equal((await browser.get(path)).status, 404, `GET ${path}`);
      const posts: Array<[string, Record<string, string>]> = [
        [`${ORG}/members/${memberB.id}/role`, { account_role: 'admin' }],
        [`${ORG}/members/${memberB.id}/remove`, {}],
        [`${ORG}/invites/${inviteB.id}/revoke`, {}],
        [`${ORG}/domains/${domainB.id}/verify`, {}],
        [`${ORG}/domains/${domainB.id}/delete`, {}],
        [`${ORG}/sso/${connectionB.id}/enabled`, { enabled: 'false' }],
        [`${ORG}/sso/${connectionB.id}/delete`, {}],
        [`${ORG}/scim/tokens/${tokenB.id}/revoke`, {}],
      ];
      for (const [path, form] of posts) {
        const response = await browser.post(path, form);
        assert.equal(response.status, 404, `POST ${path}`);
        assert.match(response.html, /not found/i);
      }
      // B's things are as they were.
      assert.equal((await t.api.get('/accounts/me/members', ownerB.accessToken)).body.find((m: { id: string }) => m.id === memberB.id).account_role, 'member');
      assert.equal((await t.api.get('/accounts/me/invites', ownerB.accessToken)).body.length, 1);
      const domains = (await t.api.get('/accounts/me/domains', ownerB.accessToken)).body;
      assert.deepEqual([domains.length, domains[0].verified_at], [1, null]);
      assert.equal((await t.api.get(`/accounts/me/sso-connections/${connectionB.id}`, ownerB.accessToken)).body.enabled, true);
      assert.equal((await t.api.get('/accounts/me/scim-tokens', ownerB.accessToken)).body.length, 1);
    });

    test('the account page: a navigation of its sections, the console for managers, and apps with access revoked behind a confirmation', async () => {
      const user = await registerAndSignIn(t.api);
      const client = await registerClient(t, { name: 'Acme Reports', redirect_uris: ['https://reports.example.com/cb'], grant_types: ['authorization_code'], token_endpoint_auth_method: 'none', scopes: ['openid', 'email', 'profile'], logo_uri: 'https://cdn.example.com/acme.png' });
      await rememberConsent(t.app.ctx, user.id, client.client_id, ['openid', 'email'], null, randomUUID());
      const browser = await pageSignIn(t.baseUrl, user.email);
      const page = await browser.get('/ui/account');
      assert.equal(page.status, 200);
      for (const anchor of ['profile', 'email', 'password', 'totp', 'passkeys', 'sessions', 'apps']) {
        assert.match(page.html, new RegExp(`<a href="#${anchor}">`), `the navigation links #${anchor}`);
        assert.match(page.html, new RegExp(`id="${anchor}"`), `the section #${anchor} is on the page`);
      }
      assert.match(page.html, /href="\/ui\/account\/organization"/, 'an owner sees the organization console');
      assert.match(page.html, /Acme Reports/);
      assert.match(page.html, /Your email address/);
      assert.match(page.html, /src="https:\/\/cdn.example.com\/acme.png"/);
      const csp = await fetch(`${t.baseUrl}/ui/account`, { headers: { cookie: `keyhold_session=${browser.cookies.get('keyhold_session')}` } });
      assert.match(csp.headers.get('content-security-policy')!, /img-src [^;]*https:\/\/cdn\.example\.com/);

      const confirm = await browser.get(`/ui/account/apps/${client.client_id}/revoke`);
      assert.match(confirm.html, /Stop Acme Reports from using your account\?/);
      assert.equal((await browser.post(`/ui/account/apps/${client.client_id}/revoke`, {})).location, '/ui/account#apps');
      const after = await browser.get('/ui/account');
      assert.match(after.html, /The app no longer has access to your account/);
      assert.match(after.html, /No app has access to your account/);
      const rows = await audit('oidc.grant_revoked', client.client_id);
      assert.deepEqual(rows.map((row) => row.user_id), [user.id]);
      assert.equal((await browser.post(`/ui/account/apps/${client.client_id}/revoke`, {})).status, 404);
    });
  });
}
