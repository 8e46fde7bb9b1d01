// The organization console's actions, without a browser: each one's effect through the API's
// services and its audit row (the API's, with details.via 'console'): members and invites,
// domains verified against a DNS server on loopback, SSO connections and the policy, SCIM tokens.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { DATABASE_KINDS } from './helpers/database.js';
import { registerAndSignIn, uniqueEmail } from './helpers/fixtures.js';
import { newDomain, ORG, startOrgConsoleApp, type OrgConsoleApp } from './helpers/org-console.js';
import { TestSamlIdp } from './helpers/saml-idp.js';

for (const kind of DATABASE_KINDS) {
  describe(`organization console actions (${kind})`, () => {
    let app: OrgConsoleApp;
    let t: OrgConsoleApp['t'];
    let dns: OrgConsoleApp['dns'];
    let join: OrgConsoleApp['join'];
    let consoleAs: OrgConsoleApp['consoleAs'];
    let audit: OrgConsoleApp['audit'];
    let assertConsoleAudit: OrgConsoleApp['assertConsoleAudit'];

    before(async () => {
      app = await startOrgConsoleApp(kind);
      ({ t, dns, join, consoleAs, audit, assertConsoleAudit } = app);
    });
    after(() => app.close());

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

    test('the member list comes a page at a time, by email, with the console\'s pager', async () => {
      const owner = await registerAndSignIn(t.api, { email: `a-owner-${randomUUID().slice(0, 8)}@example.com` });
      const accountId = (await t.api.get('/accounts/me', owner.accessToken)).body.id as string;
      // 60 more members, straight into the table (the page is what is tested, not registration).
      const emails = Array.from({ length: 60 }, (_, i) => `m${String(i).padStart(2, '0')}-${randomUUID().slice(0, 8)}@example.com`);
      await t.app.ctx.db.insertInto('users').values(emails.map((email) => ({ id: randomUUID(), email, name: email.slice(0, 3), password_hash: null, account_id: accountId, account_role: 'member' as const }))).execute();
      const browser = await consoleAs(owner);
      const first = await browser.get(ORG);
      const shown = (html: string) => [...html.matchAll(/<p class="item-meta">([^<]+)<\/p>/g)].map((m) => m[1]);
      const pageOne = shown(first.html);
      assert.equal(pageOne.length, 50);
      assert.deepEqual(pageOne, [owner.email, ...emails].sort().slice(0, 50));
      const next = /<a class="button button-secondary" href="([^"]+)" rel="next">/.exec(first.html)![1]!;
      const second = await browser.get(next);
      assert.deepEqual(shown(second.html), [owner.email, ...emails].sort().slice(50));
      assert.doesNotMatch(second.html, /rel="next"/);
      assert.match(second.html, new RegExp(`href="${ORG}">First page`));
    });
  });
}
