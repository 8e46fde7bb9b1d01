// Verified domains (API.md "Enterprise single sign-on, per account"): claim, DNS TXT proof
// through a DNS server on loopback, one account per verified domain, refused domains, tenant
// scoping, and the platform admins' routes.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ensureAdmin } from '../src/modules/admin/create-admin.js';
import { accountOwningVerifiedDomain, verifiedDomainsOf } from '../src/modules/domains/domains.repo.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { DATABASE_KINDS } from './helpers/database.js';
import { startDnsServer, type TestDnsServer } from './helpers/dns-server.js';
import { PASSWORD, registerAndSignIn, signIn, uniqueEmail, type SignedInUser } from './helpers/fixtures.js';

const newDomain = () => `corp-${randomBytes(4).toString('hex')}.test`;

for (const kind of DATABASE_KINDS) {
  describe(`verified domains (${kind})`, () => {
    let t: TestApp;
    let dns: TestDnsServer;
    let ownerA: SignedInUser;
    let ownerB: SignedInUser;

    before(async () => {
      dns = await startDnsServer();
      t = await startTestApp(kind, { env: { DNS_SERVERS: dns.address } });
      ownerA = await registerAndSignIn(t.api, { name: 'Alice A' });
      ownerB = await registerAndSignIn(t.api, { name: 'Bob B' });
    });
    after(async () => {
      await t.close();
      await dns.close();
    });

    const claim = (by: SignedInUser, domain: string) => t.api.post('/accounts/me/domains', { domain }, by.accessToken);
    const publish = (claimed: { verification: { name: string; value: string } }) => dns.txt.set(claimed.verification.name, [claimed.verification.value]);
    const verify = (by: SignedInUser, id: string) => t.api.post(`/accounts/me/domains/${id}/verify`, {}, by.accessToken);

    it('claims a domain and verifies it by its TXT record', async () => {
      const domain = newDomain();
      const claimed = await claim(ownerA, ` ${domain.toUpperCase()}. `);
      assert.equal(claimed.status, 201, JSON.stringify(claimed.body));
      assert.equal(claimed.body.domain, domain);
      assert.equal(claimed.body.verified_at, null);
      assert.equal(claimed.body.verification.type, 'dns_txt');
      assert.equal(claimed.body.verification.name, `_keyhold-verification.${domain}`);
      assert.match(claimed.body.verification.value, /^keyhold-verification=[\w-]{20,}$/);

      const early = await verify(ownerA, claimed.body.id);
      assert.equal(early.status, 400);
      assert.equal(early.body.code, 'domain_verification_failed');

      // Another value at the name proves nothing.
      dns.txt.set(claimed.body.verification.name, ['keyhold-verification=someone-elses']);
      assert.equal((await verify(ownerA, claimed.body.id)).status, 400);

      publish(claimed.body);
      const verified = await verify(ownerA, claimed.body.id);
      assert.equal(verified.status, 200, JSON.stringify(verified.body));
      assert.ok(Date.parse(verified.body.verified_at) > 0);
      const me = await t.api.get('/accounts/me', ownerA.accessToken);
      assert.deepEqual(await verifiedDomainsOf(t.app.ctx.db, me.body.id), [domain]);
      assert.equal(await accountOwningVerifiedDomain(t.app.ctx.db, domain), me.body.id);

      const list = await t.api.get('/accounts/me/domains', ownerA.accessToken);
      assert.deepEqual(list.body.map((d: { domain: string }) => d.domain), [domain]);
      const audit = await t.app.ctx.db.selectFrom('audit_logs').select('action').where('resource_id', '=', claimed.body.id).execute();
      assert.deepEqual(audit.map((a) => a.action).sort(), ['domain.claimed', 'domain.verified']);
      const events = await t.app.ctx.db.selectFrom('jobs').select('payload').where('kind', '=', 'event').execute();
      assert.ok(events.some((e) => (e.payload as { type: string }).type === 'account.domain_verified'));
    });

    it("B cannot verify A's verified domain (409 domain_taken), nor see or touch A's claims", async () => {
      const domain = newDomain();
      const a = await claim(ownerA, domain);
      publish(a.body);
      assert.equal((await verify(ownerA, a.body.id)).status, 200);

      const b = await claim(ownerB, domain);
      assert.equal(b.status, 201); // a claim is only a claim
      publish(b.body);
      const taken = await verify(ownerB, b.body.id);
      assert.equal(taken.status, 409);
      assert.equal(taken.body.code, 'domain_taken');

      const foreign = await verify(ownerB, a.body.id);
      assert.deepEqual([foreign.status, foreign.body.code], [404, 'domain_not_found']);
      assert.equal((await t.api.delete(`/accounts/me/domains/${a.body.id}`, ownerB.accessToken)).status, 404);
      const listB = await t.api.get('/accounts/me/domains', ownerB.accessToken);
      assert.ok(listB.body.every((d: { id: string }) => d.id !== a.body.id));
    });

    it('refuses public suffixes and shared mail domains with 422 domain_not_allowed', async () => {
      for (const domain of ['com', 'co.uk', 'github.io', 'gmail.com', 'outlook.com', 'yahoo.com', 'mail.gmail.com']) {
        const refused = await claim(ownerA, domain);
        assert.equal(refused.status, 422, domain);
        assert.equal(refused.body.code, 'domain_not_allowed', domain);
      }
      for (const domain of ['not a domain', '-x.com', 'a..b.com']) assert.equal((await claim(ownerA, domain)).status, 422, domain);
    });

    it('only owners and admins manage domains; deleting a verified domain frees it', async () => {
      const invite = await t.api.post('/accounts/me/invites', { email: uniqueEmail('member'), role: 'member' }, ownerA.accessToken);
      const memberEmail = invite.body.email;
      await t.api.post('/auth/register', { email: memberEmail, password: PASSWORD, name: 'M', account_invite_code: invite.body.code });
      const member = await signIn(t.api, memberEmail);
      assert.equal((await t.api.post('/accounts/me/domains', { domain: newDomain() }, member.accessToken)).status, 403);
      assert.equal((await t.api.get('/accounts/me/domains', member.accessToken)).status, 403);

      const domain = newDomain();
      const a = await claim(ownerA, domain);
      publish(a.body);
      await verify(ownerA, a.body.id);
      assert.equal((await t.api.delete(`/accounts/me/domains/${a.body.id}`, ownerA.accessToken)).status, 204);
      const b = await claim(ownerB, domain);
      publish(b.body);
      assert.equal((await verify(ownerB, b.body.id)).status, 200);
    });

    it('platform admins manage any account through /admin/accounts/{id}/domains', async () => {
      const email = uniqueEmail('admin');
      await ensureAdmin(t.app.ctx, { email, password: PASSWORD });
      const admin = await signIn(t.api, email);
      const accountB = (await t.api.get('/accounts/me', ownerB.accessToken)).body.id;
      const domain = newDomain();
      const claimed = await t.api.post(`/admin/accounts/${accountB}/domains`, { domain }, admin.accessToken);
      assert.equal(claimed.status, 201, JSON.stringify(claimed.body));
      publish(claimed.body);
      assert.equal((await t.api.post(`/admin/accounts/${accountB}/domains/${claimed.body.id}/verify`, {}, admin.accessToken)).status, 200);
      assert.ok((await t.api.get('/accounts/me/domains', ownerB.accessToken)).body.some((d: { domain: string }) => d.domain === domain));
      assert.equal((await t.api.get(`/admin/accounts/${randomUUID()}/domains`, admin.accessToken)).status, 404);
      assert.equal((await t.api.get(`/admin/accounts/${accountB}/domains`, ownerB.accessToken)).status, 403);
    });
  });
}
