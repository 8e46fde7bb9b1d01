// The customer admin's console, /ui/account/organization (API.md "Console"), without a
// browser: who may open it (owner and admins; members and people signed out may not), CSRF on
// every form, tenant isolation (another account's ids are 404 pages), and the account page's
// navigation and "Apps with access". Each action's effect and audit row:
// console-org-actions.test.ts; browser flows: console-org-browser.test.ts.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { rememberConsent } from '../src/modules/oidc-provider/apps.service.js';
import { DATABASE_KINDS } from './helpers/database.js';
import { registerAndSignIn, uniqueEmail } from './helpers/fixtures.js';
import { registerClient } from './helpers/oidc-rp.js';
import { newDomain, ORG, startOrgConsoleApp, type OrgConsoleApp } from './helpers/org-console.js';
import { PageClient, pageSignIn } from './helpers/page-client.js';
import { TestSamlIdp } from './helpers/saml-idp.js';

for (const kind of DATABASE_KINDS) {
  describe(`organization console (${kind})`, () => {
    let app: OrgConsoleApp;
    let t: OrgConsoleApp['t'];
    let dns: OrgConsoleApp['dns'];
    let join: OrgConsoleApp['join'];
    let consoleAs: OrgConsoleApp['consoleAs'];
    let audit: OrgConsoleApp['audit'];

    before(async () => {
      app = await startOrgConsoleApp(kind);
      ({ t, dns, join, consoleAs, audit } = app);
    });
    after(() => app.close());

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
      await rememberConsent(t.app.ctx, { userId: user.id, clientId: client.client_id, scopes: ['openid', 'email'], grantId: randomUUID() }, null);
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
