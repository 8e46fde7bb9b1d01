// A client registered with id_token_signed_response_alg RS256 (the contract: "the ring then
// keeps an RS256 key too, rotated with the rest"): with the provider on, the one key set holds
// an RS256 pair beside JWT_ALGORITHM's, publishes it in the one JWKS, rotates it with the rest,
// and the provider signs that client's ID tokens with it. openid-client is the relying party.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { rotateSigningKeys } from '../src/modules/keys/keys.service.js';
import { DATABASE_KINDS } from './helpers/database.js';
import { registerUser } from './helpers/fixtures.js';
import { waitFor } from './helpers/jobs.js';
import { codeFlow, oidcClient, registerClient, relyingParty, startProviderApp, type ProviderApp } from './helpers/oidc-rp.js';
import { pageSignIn } from './helpers/page-client.js';

const REDIRECT = 'https://app.example.com/callback';

for (const kind of DATABASE_KINDS) {
  describe(`OpenID Provider: RS256 ID tokens (${kind})`, () => {
    let t: ProviderApp;
    before(async () => {
      t = await startProviderApp(kind);
    });
    after(async () => t?.close());

    const published = async () =>
      ((await (await fetch(`${t.issuer}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string; alg: string; kty: string; d?: string }> }).keys;

    /** An ID token for a user signed in through the pages, by a client of `alg` (none: the default). */
    async function idTokenFor(alg?: 'RS256'): Promise<{ idToken: string; sub: string }> {
      const client = await registerClient(t, {
        grant_types: ['authorization_code'],
        token_endpoint_auth_method: 'client_secret_basic',
        redirect_uris: [REDIRECT],
        scopes: ['openid', 'email'],
        ...(alg ? { id_token_signed_response_alg: alg } : {}),
      });
      const rp = await relyingParty(t, client.client_id, oidcClient.ClientSecretBasic(client.client_secret!), alg ? { id_token_signed_response_alg: alg } : {});
      const { email, password, user } = await registerUser(t.api);
      const tokens = await codeFlow(rp, await pageSignIn(t.baseUrl, email, password), REDIRECT);
      assert.ok(tokens.id_token);
      return { idToken: tokens.id_token, sub: user.id };
    }

    const verifyWithJwks = async (idToken: string) =>
      jwtVerify(idToken, createRemoteJWKSet(new URL(`${t.issuer}/.well-known/jwks.json`), { cacheMaxAge: 0, cooldownDuration: 0 }), { issuer: t.issuer });

    test('the one JWKS holds an RS256 key beside the ES256 ones, public parts only', async () => {
      const keys = await published();
      assert.deepEqual(keys.map((k) => k.alg).sort(), ['ES256', 'ES256', 'RS256', 'RS256'], 'a current and a next of each');
      assert.ok(keys.every((k) => k.d === undefined));
      const discovery = (await (await fetch(`${t.issuer}/.well-known/openid-configuration`)).json()) as { id_token_signing_alg_values_supported: string[] };
      assert.ok(discovery.id_token_signing_alg_values_supported.includes('RS256'));
    });

    test('an RS256 client gets RS256 ID tokens that verify against the JWKS; other clients keep ES256', async () => {
      const rs = await idTokenFor('RS256');
      const { payload, protectedHeader } = await verifyWithJwks(rs.idToken);
      assert.equal(protectedHeader.alg, 'RS256');
      assert.equal(payload.sub, rs.sub);
      const rsKey = (await published()).find((k) => k.kid === protectedHeader.kid);
      assert.equal(rsKey?.kty, 'RSA');
      const es = await idTokenFor();
      assert.equal(decodeProtectedHeader(es.idToken).alg, 'ES256');
      await verifyWithJwks(es.idToken);
    });

    test('a rotation rotates the RS256 key with the rest; the previous one keeps verifying', async () => {
      const before = await idTokenFor('RS256');
      const beforeKid = decodeProtectedHeader(before.idToken).kid;
      const rotation = await rotateSigningKeys(t.app.ctx, null);
      const rs = rotation.also?.find((r) => r.alg === 'RS256');
      assert.ok(rs, 'the RS256 keys rotated too');
      assert.equal(rs.previous, beforeKid);
      // The provider is built again once this instance's key ring has seen the rotation (one poll).
      await waitFor('the rotation seen by the key ring', async () => {
        const { token } = await t.app.ctx.tokens.issue('access', before.sub);
        return decodeProtectedHeader(token).kid === rotation.current;
      });
      const after = await idTokenFor('RS256');
      assert.equal(decodeProtectedHeader(after.idToken).kid, rs.current);
      await verifyWithJwks(after.idToken);
      await verifyWithJwks(before.idToken);
      const kids = (await published()).filter((k) => k.alg === 'RS256').map((k) => k.kid).sort();
      assert.deepEqual(kids, [rs.previous!, rs.current, rs.next].sort());
    });
  });
}
