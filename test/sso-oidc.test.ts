// Enterprise SSO over OIDC: an account's connection to a local OpenID provider (oidc-provider),
// created at run time, signs people in through the same path as SAML (start → provider →
// Keyhold's callback → the front end's code → tokens), its email believed only on the
// account's verified domains. The provider is on loopback, so the URL guard is lifted as for
// webhooks (WEBHOOK_ALLOW_INSECURE_URLS); sso-oidc-ssrf.test.ts covers it switched on.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { startTestApp, type TestApp } from './helpers/app.js';
import { DATABASE_KINDS } from './helpers/database.js';
import { startDnsServer, type TestDnsServer } from './helpers/dns-server.js';
import { signInAtProvider, TestOpenIdServer, type TestIssuer } from './helpers/oidc-provider.js';
import { freePort } from './helpers/ports.js';
import { accountWithDomain, FRONT_END, setPolicy, type SsoAccount } from './helpers/sso.js';

for (const kind of DATABASE_KINDS) {
  describe(`SSO over OIDC (${kind})`, () => {
    let t: TestApp;
    let dns: TestDnsServer;
    let op: TestOpenIdServer;
    let issuer: TestIssuer;
    let untrust: () => void;
    let account: SsoAccount;
    let connectionId: string;
    let callbackUrl: string;

    before(async () => {
      dns = await startDnsServer();
      const port = await freePort();
      callbackUrl = `http://127.0.0.1:${port}/api/v1/auth/sso/oidc/callback`;
      op = await TestOpenIdServer.start();
      issuer = await op.addIssuer({ path: '/corp', clients: [{ clientId: 'keyhold-corp', clientSecret: 'corp-secret' }], redirectUris: [callbackUrl] });
      untrust = op.trustTestServer();
      t = await startTestApp(kind, { port, env: { DNS_SERVERS: dns.address, OAUTH_REDIRECT_URIS: FRONT_END, PUBLIC_URL: `http://127.0.0.1:${port}`, WEBHOOK_ALLOW_INSECURE_URLS: 'true' } });
      account = await accountWithDomain(t, dns);
      const created = await t.api.post('/accounts/me/sso-connections', {
        type: 'oidc', name: 'Corp OIDC', issuer: issuer.issuer, client_id: 'keyhold-corp', client_secret: 'corp-secret',
      }, account.owner.accessToken);
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.equal(created.body.sp.redirect_uri, callbackUrl);
      connectionId = created.body.id;
      await setPolicy(t, account.owner, { auto_join: true });
    });
    after(async () => {
      await t.close();
      untrust();
      await op.close();
      await dns.close();
    });

    /** Start by email, sign in at the provider, come back through Keyhold's callback. */
    async function oidcSignIn(sub: string, email: string) {
      issuer.addAccount({ sub, email, email_verified: true, name: `Person ${sub}` });
      const started = await t.api.post('/auth/sso/start', { email, redirect_uri: FRONT_END });
      assert.equal(started.status, 200, JSON.stringify(started.body));
      const params = await signInAtProvider(started.body.authorization_url, sub, callbackUrl);
      const back = await fetch(`${callbackUrl}?${params}`, { redirect: 'manual' });
      if (back.status !== 303) return { status: back.status, body: await back.json(), tokens: undefined };
      const landing = new URL(back.headers.get('location')!);
      assert.equal(landing.searchParams.get('state'), started.body.state);
      const tokens = await t.api.post('/auth/sso/callback', { code: landing.searchParams.get('code'), state: started.body.state });
      return { status: back.status, body: undefined, tokens };
    }

    it('signs a person in end to end with amr ["sso"], and the same subject again as the same user', async () => {
      const email = `olga@${account.domain}`;
      const first = await oidcSignIn('olga-1', email);
      assert.equal(first.tokens?.status, 200, JSON.stringify(first.body ?? first.tokens?.body));
      assert.deepEqual(decodeJwt(first.tokens!.body.access_token).amr, ['sso']);
      const me = await t.api.get('/auth/me', first.tokens!.body.access_token);
      assert.deepEqual([me.body.email, me.body.account_id], [email, account.accountId]);
      const again = await oidcSignIn('olga-1', email);
      assert.equal((await t.api.get('/auth/me', again.tokens!.body.access_token)).body.id, me.body.id);
      assert.ok(connectionId);
    });

    it("refuses an email the provider asserts outside the account's verified domains", async () => {
      issuer.addAccount({ sub: 'eve-1', email: 'eve@gmail.com', email_verified: true });
      const started = await t.api.post('/auth/sso/start', { connection_id: connectionId, redirect_uri: FRONT_END });
      const params = await signInAtProvider(started.body.authorization_url, 'eve-1', callbackUrl);
      const back = await fetch(`${callbackUrl}?${params}`, { redirect: 'manual' });
      assert.equal(back.status, 403);
      assert.equal(((await back.json()) as { code: string }).code, 'sso_domain_not_verified');
    });

    it('refuses a callback whose state is unknown or already used', async () => {
      const unknown = await fetch(`${callbackUrl}?code=abc&state=nope`, { redirect: 'manual' });
      assert.equal(unknown.status, 400);
      assert.equal(((await unknown.json()) as { code: string }).code, 'sso_failed');
    });
  });
}
