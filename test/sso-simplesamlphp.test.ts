// Interop with a SAML identity provider nobody here wrote: SimpleSAMLphp from Debian, served by
// `php -S` on loopback. People sign in end to end through the API (start by email → the IdP's
// login form → the ACS → the code → tokens); hostile variants of its genuine responses fail;
// a connection made from the IdP's metadata URL, with an SP key pair, gets encrypted
// assertions and reads them.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { startTestApp, type TestApp } from './helpers/app.js';
import { DATABASE_KINDS } from './helpers/database.js';
import { startDnsServer, type TestDnsServer } from './helpers/dns-server.js';
import { selfSignedCertificate } from './helpers/certificate.js';
import { freePort } from './helpers/ports.js';
import { SimpleSamlPhp, simpleSamlPhpMissing } from './helpers/simplesamlphp.js';
import { wrap } from './helpers/saml-wrapping.js';
import { accountWithDomain, FRONT_END, postToAcs, samlConnection, setPolicy, type SsoAccount } from './helpers/sso.js';

const missing = simpleSamlPhpMissing();
const domain = `corp-${randomBytes(4).toString('hex')}.test`;

for (const kind of DATABASE_KINDS) {
  describe(`SSO with SimpleSAMLphp (${kind})`, { skip: missing ?? false }, () => {
    let t: TestApp;
    let dns: TestDnsServer;
    let ssp: SimpleSamlPhp;
    let account: SsoAccount;
    let connection: Awaited<ReturnType<typeof samlConnection>>;

    before(async () => {
      dns = await startDnsServer();
      const port = await freePort();
      // Insecure URLs allowed: the IdP's metadata URL is plain http on loopback (the URL guard's
      // refusal of it otherwise is in test/sso-saml.test.ts).
      t = await startTestApp(kind, { port, env: { DNS_SERVERS: dns.address, OAUTH_REDIRECT_URIS: FRONT_END, PUBLIC_URL: `http://127.0.0.1:${port}`, WEBHOOK_ALLOW_INSECURE_URLS: 'true' } });
      ssp = await SimpleSamlPhp.start([
        { username: 'alice', password: 'alice-pass', email: `alice@${domain}`, name: 'Alice Liddell' },
        { username: 'mallory', password: 'mallory-pass', email: `mallory@${domain}`, name: 'Mallory' },
      ]);
      account = await accountWithDomain(t, dns, domain);
      connection = await samlConnection(t, account.owner, await ssp.metadata());
      await ssp.registerSp([{ entityId: connection.sp.entity_id, acsUrl: connection.sp.acs_url }]);
      await setPolicy(t, account.owner, { auto_join: true });
    });
    after(async () => {
      await t?.close();
      await ssp?.close();
      await dns?.close();
    });

    /** Start by email, sign in at SimpleSAMLphp: the genuine response and the front end's state. */
    async function atIdp(username: string, email: string) {
      const started = await t.api.post('/auth/sso/start', { email, redirect_uri: FRONT_END });
      assert.equal(started.status, 200, JSON.stringify(started.body));
      const answer = await ssp.signIn(started.body.authorization_url, username, `${username}-pass`);
      assert.equal(answer.acsUrl, connection.sp.acs_url);
      return { xml: Buffer.from(answer.samlResponse, 'base64').toString('utf8'), state: started.body.state as string };
    }

    async function redeem(location: string, state: string) {
      const back = new URL(location);
      assert.equal(back.searchParams.get('state'), state);
      return t.api.post('/auth/sso/callback', { code: back.searchParams.get('code'), state });
    }

    it('signs a person in end to end, and again as the same user', async () => {
      const { xml, state } = await atIdp('alice', `alice@${domain}`);
      const acs = await postToAcs(t, connection.sp.acs_url, xml);
      assert.equal(acs.status, 303, JSON.stringify(acs.body));
      const tokens = await redeem(acs.location!, state);
      assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
      assert.deepEqual(decodeJwt(tokens.body.access_token).amr, ['sso']);
      const me = await t.api.get('/auth/me', tokens.body.access_token);
      assert.deepEqual([me.body.email, me.body.name, me.body.account_id], [`alice@${domain}`, 'Alice Liddell', account.accountId]);

      const second = await atIdp('alice', `alice@${domain}`);
      const acs2 = await postToAcs(t, connection.sp.acs_url, second.xml);
      const again = await redeem(acs2.location!, second.state);
      assert.equal((await t.api.get('/auth/me', again.body.access_token)).body.id, me.body.id);
    });

    it("refuses its genuine response replayed, wrapped (XSW3) or altered", async () => {
      const { xml } = await atIdp('mallory', `mallory@${domain}`);
      const accepted = await postToAcs(t, connection.sp.acs_url, xml);
      assert.equal(accepted.status, 303, JSON.stringify(accepted.body));
      const replay = await postToAcs(t, connection.sp.acs_url, xml);
      assert.deepEqual([replay.status, replay.body.code], [400, 'sso_failed']);

      const fresh = await atIdp('mallory', `mallory@${domain}`);
      const wrapped = await postToAcs(t, connection.sp.acs_url, wrap(fresh.xml, 'XSW3', `alice@${domain}`));
      assert.deepEqual([wrapped.status, wrapped.body.code], [400, 'sso_failed']);
      const altered = await postToAcs(t, connection.sp.acs_url, fresh.xml.replace(`mallory@${domain}`, `alice@${domain}`));
      assert.deepEqual([altered.status, altered.body.code], [400, 'sso_failed']);
    });

    it('a connection from the metadata URL, with an SP key pair, receives encrypted assertions and signs the person in', async () => {
      const sp = selfSignedCertificate({ commonName: 'Keyhold SP encryption', keyType: 'rsa', days: 2 });
      const created = await t.api.post('/accounts/me/sso-connections', {
        type: 'saml', name: 'Corp SAML (encrypted)', metadata_url: ssp.entityId, sp_private_key: sp.key, sp_certificate: sp.cert,
      }, account.owner.accessToken);
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const encrypted = created.body as { id: string; sp: { entity_id: string; acs_url: string; metadata_url: string } };
      // The SP metadata offers the certificate for encryption.
      assert.match(await (await fetch(encrypted.sp.metadata_url)).text(), /use="encryption"/);
      await ssp.registerSp([
        { entityId: connection.sp.entity_id, acsUrl: connection.sp.acs_url },
        { entityId: encrypted.sp.entity_id, acsUrl: encrypted.sp.acs_url, encryptTo: sp.certBase64 },
      ]);
      const started = await t.api.post('/auth/sso/start', { connection_id: encrypted.id, redirect_uri: FRONT_END });
      assert.equal(started.status, 200, JSON.stringify(started.body));
      const answer = await ssp.signIn(started.body.authorization_url, 'alice', 'alice-pass');
      const xml = Buffer.from(answer.samlResponse, 'base64').toString('utf8');
      assert.match(xml, /EncryptedAssertion/);
      assert.doesNotMatch(xml, new RegExp(`alice@${domain.replace('.', '\\.')}`));
      const acs = await postToAcs(t, encrypted.sp.acs_url, xml);
      assert.equal(acs.status, 303, JSON.stringify(acs.body));
      const tokens = await redeem(acs.location!, started.body.state);
      assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
      assert.equal((await t.api.get('/auth/me', tokens.body.access_token)).body.email, `alice@${domain}`);
    });
  });
}
