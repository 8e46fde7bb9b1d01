// The OpenID Provider's other ways in, each with openid-client as the relying party:
// private_key_jwt, pushed authorization requests (RFC 9126), the device flow (RFC 8628), DPoP
// (RFC 9449); and its state: it survives a restart, and two instances share one database.
import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { decodeJwt, exportJWK } from 'jose';
import { createTestDatabase, DATABASE_KINDS } from './helpers/database.js';
import { registerUser } from './helpers/fixtures.js';
import { codeFlow, followAuthorization, isOAuthError, oidcClient, registerClient, relyingParty, startProviderApp, type ProviderApp } from './helpers/oidc-rp.js';
import { pageSignIn } from './helpers/page-client.js';
import { freePort } from './helpers/ports.js';

const REDIRECT = 'https://app.example.com/callback';

for (const kind of DATABASE_KINDS) {
  describe(`OpenID Provider grants (${kind})`, () => {
    let t: ProviderApp;
    before(async () => {
      t = await startProviderApp(kind);
    });
    after(async () => t?.close());

    test('private_key_jwt: the client proves itself with its own key', async () => {
      const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
      const publicJwk = { ...(await exportJWK(keys.publicKey)), kid: 'machine-1', alg: 'ES256', use: 'sig' };
      const client = await registerClient(t, {
        grant_types: ['client_credentials'],
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys: [publicJwk] },
        redirect_uris: [],
        scopes: ['reports:read'],
        resources: ['https://api.example.com'],
      });
      assert.equal(client.client_secret, undefined);
      const rp = await relyingParty(t, client.client_id, oidcClient.PrivateKeyJwt({ key: keys.privateKey, kid: 'machine-1' }));
      const tokens = await oidcClient.clientCredentialsGrant(rp, { scope: 'reports:read' });
      assert.equal(decodeJwt(tokens.access_token).sub, client.client_id);
      const other = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
      const impostor = await relyingParty(t, client.client_id, oidcClient.PrivateKeyJwt({ key: other.privateKey, kid: 'machine-1' }));
      await assert.rejects(oidcClient.clientCredentialsGrant(impostor, { scope: 'reports:read' }), isOAuthError('invalid_client'));
    });

    test('DPoP: accepted from any client, required from a dpop_bound one; the token is bound to the key', async () => {
      const client = await registerClient(t, {
        grant_types: ['client_credentials'],
        token_endpoint_auth_method: 'client_secret_basic',
        redirect_uris: [],
        scopes: ['reports:read'],
        resources: ['https://api.example.com'],
        dpop_bound: true,
      });
      const rp = await relyingParty(t, client.client_id, oidcClient.ClientSecretBasic(client.client_secret));
      // (oidc-provider answers a missing proof from a DPoP-bound client with invalid_grant.)
      await assert.rejects(oidcClient.clientCredentialsGrant(rp, { scope: 'reports:read' }), isOAuthError('invalid_grant'));
      const DPoP = oidcClient.getDPoPHandle(rp, await oidcClient.randomDPoPKeyPair('ES256'));
      const tokens = await oidcClient.clientCredentialsGrant(rp, { scope: 'reports:read' }, { DPoP });
      assert.equal(tokens.token_type.toLowerCase(), 'dpop');
      assert.ok((decodeJwt(tokens.access_token).cnf as { jkt?: string }).jkt);
    });

    test('PAR and the device flow', async () => {
      const web = await registerClient(t, { first_party: true, grant_types: ['authorization_code'], token_endpoint_auth_method: 'client_secret_basic', redirect_uris: [REDIRECT], scopes: ['openid', 'email'] });
      const rp = await relyingParty(t, web.client_id, oidcClient.ClientSecretBasic(web.client_secret));
      const { email, password, user } = await registerUser(t.api);
      const browser = await pageSignIn(t.baseUrl, email, password);
      const verifier = oidcClient.randomPKCECodeVerifier();
      const parUrl = await oidcClient.buildAuthorizationUrlWithPAR(rp, { redirect_uri: REDIRECT, scope: 'openid email', code_challenge: await oidcClient.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
      assert.ok(parUrl.searchParams.get('request_uri')?.startsWith('urn:ietf:params:oauth:request_uri:'));
      const { callback } = await followAuthorization(browser, parUrl.href, REDIRECT);
      const tokens = await oidcClient.authorizationCodeGrant(rp, callback!, { pkceCodeVerifier: verifier, expectedState: oidcClient.skipStateCheck });
      assert.equal(tokens.claims()!.sub, user.id);

      const tv = await registerClient(t, { first_party: true, grant_types: ['urn:ietf:params:oauth:grant-type:device_code'], token_endpoint_auth_method: 'none', redirect_uris: [], scopes: ['openid', 'email'] });
      const device = await relyingParty(t, tv.client_id);
      const started = await oidcClient.initiateDeviceAuthorization(device, { scope: 'openid email' });
      // The user opens the verification page on another device (here: the signed-in browser) and confirms the code.
      const confirm = await browser.get(new URL(started.verification_uri_complete!).pathname + new URL(started.verification_uri_complete!).search);
      const xsrf = /name="xsrf" value="([^"]+)"/.exec(confirm.html)?.[1];
      assert.ok(xsrf, 'the confirmation form');
      const confirmed = await browser.post(new URL(started.verification_uri).pathname, { xsrf, user_code: started.user_code, confirm: 'yes' });
      let response = confirmed;
      for (let hops = 0; response.location && hops < 10; hops++) response = await browser.get(response.location);
      assert.equal(response.status, 200);
      const deviceTokens = await oidcClient.pollDeviceAuthorizationGrant(device, { ...started, interval: 1 });
      assert.equal(deviceTokens.claims()!.sub, user.id);
    });
  });
}

describe('OpenID Provider state survives a restart and is shared by two instances', () => {
  test('a refresh token from before a restart still works (embedded database on disk)', async () => {
    const database = await createTestDatabase('pglite', { persistent: true });
    const port = await freePort();
    let t = await startProviderApp('pglite', { database, port });
    try {
      const client = await registerClient(t, { first_party: true, grant_types: ['authorization_code', 'refresh_token'], token_endpoint_auth_method: 'client_secret_basic', redirect_uris: [REDIRECT], scopes: ['openid', 'offline_access'] });
      const { email, password } = await registerUser(t.api);
      let rp = await relyingParty(t, client.client_id, oidcClient.ClientSecretBasic(client.client_secret));
      const tokens = await codeFlow(rp, await pageSignIn(t.baseUrl, email, password), REDIRECT, { scope: 'openid offline_access', prompt: 'consent' });
      assert.ok(tokens.refresh_token);
      await t.close();
      t = await startProviderApp('pglite', { database, port });
      rp = await relyingParty(t, client.client_id, oidcClient.ClientSecretBasic(client.client_secret));
      const refreshed = await oidcClient.refreshTokenGrant(rp, tokens.refresh_token!);
      assert.ok(refreshed.access_token);
    } finally {
      await t.close();
      await database.drop();
    }
  });

  test('two instances on one PostgreSQL: a code from one is exchanged at the other', { skip: DATABASE_KINDS.includes('postgres') ? false : 'TEST_DATABASE_URL is not set' }, async () => {
    const database = await createTestDatabase('postgres');
    const a = await startProviderApp('postgres', { database });
    const b = await startProviderApp('postgres', { database, env: { PUBLIC_URL: a.issuer } });
    try {
      const client = await registerClient(a, { first_party: true, grant_types: ['authorization_code'], token_endpoint_auth_method: 'client_secret_basic', redirect_uris: [REDIRECT], scopes: ['openid', 'email'] });
      const { email, password, user } = await registerUser(a.api);
      const rpA = await relyingParty(a, client.client_id, oidcClient.ClientSecretBasic(client.client_secret));
      const metadata = JSON.parse(JSON.stringify(rpA.serverMetadata())) as oidcClient.ServerMetadata;
      const rpB = new oidcClient.Configuration(
        { ...metadata, token_endpoint: `${b.baseUrl}/oidc/token`, userinfo_endpoint: `${b.baseUrl}/oidc/me` },
        client.client_id,
        {},
        oidcClient.ClientSecretBasic(client.client_secret),
      );
      oidcClient.allowInsecureRequests(rpB);
      const verifier = oidcClient.randomPKCECodeVerifier();
      const url = oidcClient.buildAuthorizationUrl(rpA, { redirect_uri: REDIRECT, scope: 'openid email', code_challenge: await oidcClient.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
      const { callback } = await followAuthorization(await pageSignIn(a.baseUrl, email, password), url.href, REDIRECT);
      const tokens = await oidcClient.authorizationCodeGrant(rpB, callback!, { pkceCodeVerifier: verifier, expectedState: oidcClient.skipStateCheck });
      assert.equal(tokens.claims()!.sub, user.id);
      const info = await oidcClient.fetchUserInfo(rpB, tokens.access_token, user.id);
      assert.equal(info.email, email);
    } finally {
      await b.close();
      await a.close();
      await database.drop();
    }
  });
});
