// RFC 9068 access tokens when no resource is asked for (issue 27): a JWT (typ at+jwt) whose
// aud is the userinfo endpoint, signed by the one key ring (verifies with the JWKS), accepted
// at userinfo and introspection, revocable, renewed as a JWT by refresh; a tampered one is
// refused. With a resource, aud stays the resource.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { DATABASE_KINDS } from './helpers/database.js';
import { registerUser } from './helpers/fixtures.js';
import { codeFlow, isOAuthError, oidcClient, registerClient, relyingParty, startProviderApp, type ProviderApp } from './helpers/oidc-rp.js';
import { pageSignIn } from './helpers/page-client.js';

const REDIRECT = 'https://app.example.com/callback';

for (const kind of DATABASE_KINDS) {
  describe(`OpenID Provider access tokens without a resource (${kind})`, () => {
    let t: ProviderApp;
    before(async () => {
      t = await startProviderApp(kind);
    });
    after(async () => t?.close());

    test('a JWT for the userinfo endpoint: verifiable, accepted by userinfo and introspection, revocable, refreshed as a JWT', async () => {
      const client = await registerClient(t, {
        first_party: true,
        grant_types: ['authorization_code', 'refresh_token'],
        token_endpoint_auth_method: 'client_secret_basic',
        redirect_uris: [REDIRECT],
        scopes: ['openid', 'email', 'offline_access'],
      });
      const rp = await relyingParty(t, client.client_id, oidcClient.ClientSecretBasic(client.client_secret));
      const userinfoEndpoint = rp.serverMetadata().userinfo_endpoint!;
      const { email, password, user } = await registerUser(t.api);
      const tokens = await codeFlow(rp, await pageSignIn(t.baseUrl, email, password), REDIRECT, { scope: 'openid email offline_access', prompt: 'consent' });

      assert.equal(decodeProtectedHeader(tokens.access_token).typ, 'at+jwt');
      const jwks = createRemoteJWKSet(new URL(rp.serverMetadata().jwks_uri!));
      const { payload } = await jwtVerify(tokens.access_token, jwks, { issuer: t.issuer, audience: userinfoEndpoint, typ: 'at+jwt' });
      assert.deepEqual([payload.sub, payload.client_id, payload.scope], [user.id, client.client_id, 'openid email offline_access']);
      assert.ok(payload.jti && payload.exp && payload.iat);

      const info = await oidcClient.fetchUserInfo(rp, tokens.access_token, user.id);
      assert.equal(info.email, email);
      const introspected = await oidcClient.tokenIntrospection(rp, tokens.access_token);
      assert.equal(introspected.active, true);
      assert.equal(introspected.sub, user.id);

      // A token changed after signing is refused (its signature no longer holds).
      const [header, , signature] = tokens.access_token.split('.');
      const forgedBody = Buffer.from(JSON.stringify({ ...payload, scope: 'openid email account' })).toString('base64url');
      await assert.rejects(oidcClient.fetchUserInfo(rp, `${header}.${forgedBody}.${signature}`, user.id), isOAuthError('invalid_token'));

      const refreshed = await oidcClient.refreshTokenGrant(rp, tokens.refresh_token!);
      assert.equal(decodeJwt(refreshed.access_token).aud, userinfoEndpoint);
      assert.equal((await oidcClient.fetchUserInfo(rp, refreshed.access_token, user.id)).sub, user.id);

      await oidcClient.tokenRevocation(rp, refreshed.access_token);
      await assert.rejects(oidcClient.fetchUserInfo(rp, refreshed.access_token, user.id), isOAuthError('invalid_token'));
      assert.equal((await oidcClient.tokenIntrospection(rp, refreshed.access_token)).active, false);
    });

    test('with a resource, aud is the resource (the library\'s RFC 9068 token); none asked for, the userinfo endpoint', async () => {
      const client = await registerClient(t, {
        first_party: true,
        grant_types: ['client_credentials'],
        token_endpoint_auth_method: 'client_secret_basic',
        redirect_uris: [],
        scopes: ['reports:read'],
        resources: ['https://api.example.com', 'https://other.example.com'],
      });
      const rp = await relyingParty(t, client.client_id, oidcClient.ClientSecretBasic(client.client_secret));
      const forApi = await oidcClient.clientCredentialsGrant(rp, { scope: 'reports:read', resource: 'https://api.example.com' });
      assert.equal(decodeJwt(forApi.access_token).aud, 'https://api.example.com');
      // None asked for (and more than one registered): the userinfo endpoint is the audience.
      const none = await oidcClient.clientCredentialsGrant(rp, {});
      assert.equal(decodeProtectedHeader(none.access_token).typ, 'at+jwt');
      assert.equal(decodeJwt(none.access_token).aud, rp.serverMetadata().userinfo_endpoint);
      assert.equal(decodeJwt(none.access_token).sub, client.client_id);
    });
  });
}
