// Keyhold as an OpenID Provider, with a real relying party (openid-client) and no browser:
// discovery, the one JWKS, clients through the admin API (secrets hashed, shown once, rotated
// with the old one honoured), redirect-URI rules, client credentials with RFC 9068 tokens.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { DATABASE_KINDS } from './helpers/database.js';
import { isOAuthError, oidcClient, registerClient, relyingParty, startProviderApp, type ProviderApp } from './helpers/oidc-rp.js';

for (const kind of DATABASE_KINDS) {
  describe(`OpenID Provider (${kind})`, () => {
    let t: ProviderApp;
    before(async () => {
      t = await startProviderApp(kind);
    });
    after(async () => t?.close());

    test('discovery is the provider\'s, at the issuer, with the one JWKS of 0.2', async () => {
      const response = await fetch(`${t.issuer}/.well-known/openid-configuration`);
      assert.equal(response.status, 200);
      const doc = (await response.json()) as Record<string, unknown>;
      assert.equal(doc.issuer, t.issuer);
      assert.equal(doc.jwks_uri, `${t.issuer}/.well-known/jwks.json`);
      assert.equal(doc.authorization_endpoint, `${t.issuer}/oidc/auth`);
      assert.equal(doc.token_endpoint, `${t.issuer}/oidc/token`);
      assert.deepEqual(doc.code_challenge_methods_supported, ['S256']);
      assert.ok((doc.id_token_signing_alg_values_supported as string[]).includes('ES256'));
      const jwks = (await (await fetch(`${t.issuer}/.well-known/jwks.json`)).json()) as { keys: Array<{ d?: string }> };
      assert.ok(jwks.keys.length >= 1);
      assert.ok(jwks.keys.every((key) => key.d === undefined));
    });

    test('client credentials: an RFC 9068 access token for the registered resource, sub = client_id, account_id of a tenant client', async () => {
      const accounts = await t.api.get('/auth/me', t.adminToken);
      const accountId = accounts.body.account_id as string;
      const client = await registerClient(t, {
        grant_types: ['client_credentials'],
        token_endpoint_auth_method: 'client_secret_basic',
        redirect_uris: [],
        scopes: ['invoices:read'],
        resources: ['https://api.example.com'],
        account_id: accountId,
      });
      assert.ok(client.client_secret, 'the secret is shown at creation');
      const listed = await t.api.get(`/admin/oauth-clients/${client.client_id}`, t.adminToken);
      assert.equal(listed.status, 200);
      assert.equal(listed.body.client_secret, undefined, 'never shown again');

      const rp = await relyingParty(t, client.client_id, oidcClient.ClientSecretBasic(client.client_secret));
      const tokens = await oidcClient.clientCredentialsGrant(rp, { scope: 'invoices:read' });
      assert.equal(decodeProtectedHeader(tokens.access_token).typ, 'at+jwt');
      const { payload, protectedHeader } = await jwtVerify(tokens.access_token, createRemoteJWKSet(new URL(`${t.issuer}/.well-known/jwks.json`)), {
        issuer: t.issuer,
        audience: 'https://api.example.com',
        typ: 'at+jwt',
      });
      assert.equal(protectedHeader.alg, 'ES256');
      assert.equal(payload.sub, client.client_id);
      assert.equal(payload.client_id, client.client_id);
      assert.equal(payload.scope, 'invoices:read');
      assert.equal(payload.account_id, accountId);

      // A wrong secret is refused, OAuth-shaped.
      const wrong = await relyingParty(t, client.client_id, oidcClient.ClientSecretBasic('not-the-secret'));
      await assert.rejects(oidcClient.clientCredentialsGrant(wrong, { scope: 'invoices:read' }), isOAuthError('invalid_client'));

      // Rotation: the new secret works, and the old one for 24 hours more.
      const rotated = await t.api.post(`/admin/oauth-clients/${client.client_id}/rotate-secret`, {}, t.adminToken);
      assert.equal(rotated.status, 200);
      assert.ok(rotated.body.client_secret && rotated.body.client_secret !== client.client_secret);
      const fresh = await relyingParty(t, client.client_id, oidcClient.ClientSecretBasic(rotated.body.client_secret));
      await oidcClient.clientCredentialsGrant(fresh, { scope: 'invoices:read' });
      await oidcClient.clientCredentialsGrant(rp, { scope: 'invoices:read' });
      t.clock.advanceSeconds(25 * 3600);
      try {
        await assert.rejects(oidcClient.clientCredentialsGrant(rp, { scope: 'invoices:read' }), isOAuthError('invalid_client'));
      } finally {
        t.clock.advanceSeconds(-25 * 3600);
      }
    });

    test('redirect URIs: https, loopback and private-use (public clients) only', async () => {
      const base = { grant_types: ['authorization_code'], scopes: ['openid'] };
      const refused = async (body: Record<string, unknown>) => {
        const response = await t.api.post('/admin/oauth-clients', { name: 'x', ...base, ...body }, t.adminToken);
        assert.equal(response.status, 422, JSON.stringify(body));
      };
      await refused({ token_endpoint_auth_method: 'client_secret_basic', redirect_uris: ['http://app.example.com/cb'] });
      await refused({ token_endpoint_auth_method: 'client_secret_basic', redirect_uris: ['https://app.example.com/cb#x'] });
      await refused({ token_endpoint_auth_method: 'client_secret_basic', redirect_uris: ['com.example.app:/cb'] });
      await refused({ token_endpoint_auth_method: 'none', redirect_uris: ['javascript:alert(1)'] });
      await refused({ token_endpoint_auth_method: 'none', redirect_uris: ['myapp:/cb'] });
      await refused({ token_endpoint_auth_method: 'none', redirect_uris: [] });
      await refused({ token_endpoint_auth_method: 'none', grant_types: ['client_credentials'], redirect_uris: [] });
      await registerClient(t, { ...base, token_endpoint_auth_method: 'none', redirect_uris: ['com.example.app:/cb', 'http://127.0.0.1/cb', 'http://[::1]/cb'] });
      await registerClient(t, { ...base, token_endpoint_auth_method: 'client_secret_post', redirect_uris: ['https://app.example.com/cb'] });
    });

    test('unknown client: 404; deleting a client ends its tokens', async () => {
      const missing = await t.api.get('/admin/oauth-clients/nope', t.adminToken);
      assert.equal(missing.status, 404);
      assert.deepEqual(missing.body, { detail: 'OAuth client not found', code: 'oauth_client_not_found' });
      const client = await registerClient(t, { grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_post', redirect_uris: [], scopes: ['x'], resources: ['https://api.example.com'] });
      const rp = await relyingParty(t, client.client_id, oidcClient.ClientSecretPost(client.client_secret));
      await oidcClient.clientCredentialsGrant(rp, { scope: 'x' });
      assert.equal((await t.api.delete(`/admin/oauth-clients/${client.client_id}`, t.adminToken)).status, 204);
      await assert.rejects(oidcClient.clientCredentialsGrant(rp, { scope: 'x' }), isOAuthError('invalid_client'));
    });
  });
}
