// Hostile SAML responses, each built from a genuine signed one (API.md: "Signature-wrapping,
// comment-injection and unsigned variants are refused with 400 sso_failed, never a 500"), and
// tenant isolation between two accounts' connections. After every refusal nobody is signed in:
// no code was issued, no identity linked, no user created.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestApp } from './helpers/app.js';
import { DATABASE_KINDS } from './helpers/database.js';
import { startDnsServer, type TestDnsServer } from './helpers/dns-server.js';
import { PASSWORD } from './helpers/fixtures.js';
import { freePort } from './helpers/ports.js';
import { base64, newId, TestSamlIdp, type ResponseOptions } from './helpers/saml-idp.js';
import { stripSignatures, tamper, wrap, WRAPPING_VARIANTS } from './helpers/saml-wrapping.js';
import { accountWithDomain, FRONT_END, postToAcs, samlConnection, samlSignIn, setPolicy, startSaml, type SsoAccount } from './helpers/sso.js';

for (const kind of DATABASE_KINDS) {
  describe(`SSO: hostile SAML responses and tenant isolation (${kind})`, () => {
    let t: TestApp;
    let dns: TestDnsServer;
    let a: SsoAccount;
    let idp: TestSamlIdp;
    let connection: Awaited<ReturnType<typeof samlConnection>>;
    let victimEmail: string;

    before(async () => {
      dns = await startDnsServer();
      const port = await freePort();
      t = await startTestApp(kind, { port, env: { DNS_SERVERS: dns.address, OAUTH_REDIRECT_URIS: FRONT_END, PUBLIC_URL: `http://127.0.0.1:${port}` } });
      a = await accountWithDomain(t, dns);
      idp = new TestSamlIdp();
      connection = await samlConnection(t, a.owner, idp.metadata());
      // auto_join on: a forged response that got through would sign someone in.
      await setPolicy(t, a.owner, { auto_join: true });
      // The victim: an existing member with a password, whom the attacker wants to become.
      victimEmail = `ceo@${a.domain}`;
      const invite = await t.api.post('/accounts/me/invites', { email: victimEmail, role: 'admin' }, a.owner.accessToken);
      await t.api.post('/auth/register', { email: victimEmail, password: PASSWORD, name: 'CEO', account_invite_code: invite.body.code });
    });
    after(async () => {
      await t.close();
      await dns.close();
    });

    const count = async (table: 'sso_codes' | 'sso_identities' | 'users' | 'sessions') =>
      Number((await t.app.ctx.db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);

    /** Posts `xml` and checks the refusal: 400 sso_failed, and nothing issued or written. */
    async function assertRefused(xml: string, what: string, acsUrl = connection.sp.acs_url): Promise<void> {
      const before = { codes: await count('sso_codes'), identities: await count('sso_identities'), users: await count('users'), sessions: await count('sessions') };
      const reply = await postToAcs(t, acsUrl, xml);
      assert.equal(reply.status, 400, `${what}: ${reply.status} ${JSON.stringify(reply.body)}`);
      assert.deepEqual(reply.body, { detail: 'SSO sign-in failed', code: 'sso_failed' }, what);
      assert.equal(reply.location, null, what);
      const after = { codes: await count('sso_codes'), identities: await count('sso_identities'), users: await count('users'), sessions: await count('sessions') };
      assert.deepEqual(after, before, `${what}: nothing written`);
    }

    /** A genuine response to a fresh request of `connection`, for the attacker's own identity. */
    async function genuine(sign: { assertion?: boolean; response?: boolean }, overrides: Partial<ResponseOptions> = {}): Promise<string> {
      const { requestId } = await startSaml(t, connection.id);
      const attacker = `attacker@${a.domain}`;
      return idp.sign(idp.response({ inResponseTo: requestId, nameId: attacker, email: attacker, acsUrl: connection.sp.acs_url, audience: connection.sp.entity_id, ...overrides }), sign);
    }

    it('the genuine response, unmodified, is accepted (the control)', async () => {
      const reply = await postToAcs(t, connection.sp.acs_url, await genuine({ assertion: true }));
      assert.equal(reply.status, 303, JSON.stringify(reply.body));
      const both = await postToAcs(t, connection.sp.acs_url, await genuine({ assertion: true, response: true }));
      assert.equal(both.status, 303, JSON.stringify(both.body));
    });

    for (const variant of WRAPPING_VARIANTS) {
      it(`refuses signature wrapping ${variant}`, async () => {
        const signedPart = variant === 'XSW1' || variant === 'XSW2' ? { response: true } : { assertion: true };
        await assertRefused(wrap(await genuine(signedPart), variant, victimEmail), variant);
      });
    }

    it('refuses an unsigned response, a tampered one, and one signed by another key', async () => {
      await assertRefused(stripSignatures(await genuine({ assertion: true })), 'unsigned');
      await assertRefused(stripSignatures(await genuine({ assertion: true, response: true })), 'unsigned (both stripped)');
      await assertRefused(tamper(await genuine({ assertion: true }), victimEmail), 'tampered assertion');
      await assertRefused(tamper(await genuine({ response: true }), victimEmail), 'tampered under a response signature');
      const stranger = new TestSamlIdp(idp.entityId, idp.ssoUrl);
      const { requestId } = await startSaml(t, connection.id);
      await assertRefused(stranger.sign(stranger.response({ inResponseTo: requestId, nameId: victimEmail, email: victimEmail, acsUrl: connection.sp.acs_url, audience: connection.sp.entity_id })), 'foreign key');
    });

    it('refuses a comment injected in the NameID', async () => {
      // Signed with the comment: exclusive c14n drops comments, so the signature holds, and a
      // reader that took the first text node would see the victim's address.
      const { requestId } = await startSaml(t, connection.id);
      const xml = idp.sign(idp.response({
        inResponseTo: requestId, nameId: '', nameIdXml: `${victimEmail}<!---->.attacker.test`, acsUrl: connection.sp.acs_url, audience: connection.sp.entity_id,
      }));
      await assertRefused(xml, 'NameID comment injection');
    });

    it('refuses a foreign audience, a wrong recipient or destination, a wrong issuer, and the expired or not yet valid', async () => {
      await assertRefused(await genuine({ assertion: true }, { audience: 'https://other-sp.test/metadata' }), 'foreign audience');
      await assertRefused(await genuine({ assertion: true }, { recipient: 'https://other-sp.test/acs' }), 'wrong recipient');
      await assertRefused(await genuine({ assertion: true, response: true }, { destination: 'https://other-sp.test/acs' }), 'wrong destination');
      await assertRefused(await genuine({ assertion: true }, { issuer: 'https://impostor.test/idp' }), 'wrong issuer');
      await assertRefused(await genuine({ assertion: true }, { notBefore: -3600, notOnOrAfter: -180 }), 'expired beyond the 2 minutes of skew');
      await assertRefused(await genuine({ assertion: true }, { notBefore: 300, notOnOrAfter: 900 }), 'not yet valid');
    });

    it('refuses a wrong InResponseTo, a replayed response, and an IdP-initiated one (not allowed here)', async () => {
      const attacker = `attacker@${a.domain}`;
      const unknownRequest = idp.sign(idp.response({ inResponseTo: newId(), nameId: attacker, email: attacker, acsUrl: connection.sp.acs_url, audience: connection.sp.entity_id }));
      await assertRefused(unknownRequest, 'InResponseTo of no request');

      const first = await genuine({ assertion: true });
      assert.equal((await postToAcs(t, connection.sp.acs_url, first)).status, 303);
      await assertRefused(first, 'replay of an accepted response');

      const unsolicited = idp.sign(idp.response({ inResponseTo: null, nameId: attacker, email: attacker, acsUrl: connection.sp.acs_url, audience: connection.sp.entity_id }));
      await assertRefused(unsolicited, 'IdP-initiated');
    });

    it('IdP-initiated where allowed: lands on default_redirect_uri with a code; the same assertion twice is a replay', async () => {
      const allowed = await samlConnection(t, a.owner, idp.metadata(), { allow_idp_initiated: true, default_redirect_uri: FRONT_END });
      const attacker = `attacker@${a.domain}`;
      const xml = idp.sign(idp.response({ inResponseTo: null, nameId: attacker, email: attacker, acsUrl: allowed.sp.acs_url, audience: allowed.sp.entity_id }));
      const reply = await postToAcs(t, allowed.sp.acs_url, xml);
      assert.equal(reply.status, 303, JSON.stringify(reply.body));
      assert.ok(reply.location!.startsWith(`${FRONT_END}?code=`));
      await assertRefused(xml, 'replayed unsolicited assertion', allowed.sp.acs_url);
      const failures = await t.app.ctx.db.selectFrom('audit_logs').select('details').where('action', '=', 'sso.sign_in_failed').where('resource_id', '=', allowed.id).execute();
      assert.ok(failures.some((f) => (f.details as { reason: string }).reason === 'assertion_replayed'));
    });

    it('never answers 500 to malformed input', async () => {
      const entity = '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">&b;</samlp:Response>';
      for (const [what, body] of [
        ['not base64 XML', 'bm90IHhtbA=='],
        ['garbage', '%%%'],
        ['entity expansion', base64(entity)],
        ['empty response element', base64('<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"/>')],
        ['another root', base64('<foo/>')],
      ] as const) {
        const reply = await fetch(connection.sp.acs_url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `SAMLResponse=${encodeURIComponent(body)}`, redirect: 'manual' });
        assert.equal(reply.status, 400, what);
      }
    });

    describe('tenant isolation', () => {
      let b: SsoAccount;
      let bConnectionSameIdp: Awaited<ReturnType<typeof samlConnection>>;

      before(async () => {
        b = await accountWithDomain(t, dns);
        // Account B configures the very same IdP (same certificate): only the SP checks separate them.
        bConnectionSameIdp = await samlConnection(t, b.owner, idp.metadata());
        await setPolicy(t, b.owner, { auto_join: true });
      });

      it("a connection of account B never signs in a user of account A (A's domain is not B's)", async () => {
        const reply = await samlSignIn(t, idp, bConnectionSameIdp, { nameId: 'ceo', email: victimEmail });
        assert.deepEqual([reply.acs.status, reply.acs.body.code], [403, 'sso_domain_not_verified']);
      });

      it("a subject of A's connection replayed at B's ACS fails", async () => {
        const forA = await genuine({ assertion: true, response: true });
        await assertRefused(forA, "A's response at B's ACS", bConnectionSameIdp.sp.acs_url);
        // Even rewritten for B's ACS and audience (without re-signing), it does not pass.
        const rewritten = forA.split(connection.sp.acs_url).join(bConnectionSameIdp.sp.acs_url).split(connection.sp.entity_id).join(bConnectionSameIdp.sp.entity_id);
        await assertRefused(rewritten, "A's response rewritten for B", bConnectionSameIdp.sp.acs_url);
      });

      it("B cannot verify A's domain", async () => {
        const claimed = await t.api.post('/accounts/me/domains', { domain: a.domain }, b.owner.accessToken);
        dns.txt.set(claimed.body.verification.name, [claimed.body.verification.value]);
        const verify = await t.api.post(`/accounts/me/domains/${claimed.body.id}/verify`, {}, b.owner.accessToken);
        assert.deepEqual([verify.status, verify.body.code], [409, 'domain_taken']);
      });

      it("an email outside the account's verified domains is refused", async () => {
        const reply = await samlSignIn(t, idp, connection, { nameId: 'outsider', email: 'someone@not-verified.test' });
        assert.deepEqual([reply.acs.status, reply.acs.body.code], [403, 'sso_domain_not_verified']);
        const noEmail = await samlSignIn(t, idp, connection, { nameId: 'opaque-subject-id' });
        assert.deepEqual([noEmail.acs.status, noEmail.acs.body.code], [403, 'sso_domain_not_verified']);
      });
    });
  });
}
