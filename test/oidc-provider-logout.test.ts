// Back-channel logout (OpenID Connect Back-Channel Logout 1.0): whenever the Keyhold session an
// app signed in with ends (another device's "sign out everywhere else", a password change, a
// deactivation), a logout token reaches the app's receiver through the job queue, and it
// verifies with jose against the one JWKS. Also: negative authorization cases.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { DATABASE_KINDS } from './helpers/database.js';
import { registerUser, signIn } from './helpers/fixtures.js';
import { codeFlow, followAuthorization, isOAuthError, oidcClient, registerClient, relyingParty, startProviderApp, type ProviderApp, type RegisteredClient } from './helpers/oidc-rp.js';
import { pageSignIn, type PageClient } from './helpers/page-client.js';
import { startReceiver, type Receiver } from './helpers/webhook-receiver.js';

const REDIRECT = 'https://app.example.com/callback';

for (const kind of DATABASE_KINDS) {
  describe(`OpenID Provider: back-channel logout and refusals (${kind})`, () => {
    let t: ProviderApp;
    let receiver: Receiver;
    let client: RegisteredClient;
    let rp: oidcClient.Configuration;

    before(async () => {
      t = await startProviderApp(kind);
      receiver = await startReceiver();
      client = await registerClient(t, {
        name: 'Wiki',
        first_party: true,
        grant_types: ['authorization_code'],
        token_endpoint_auth_method: 'client_secret_post',
        redirect_uris: [REDIRECT],
        scopes: ['openid', 'email'],
        backchannel_logout_uri: `${receiver.url}/backchannel`,
      });
      rp = await relyingParty(t, client.client_id, oidcClient.ClientSecretPost(client.client_secret));
    });
    after(async () => {
      await receiver?.close();
      await t?.close();
    });

    /** A user signed in to the app through the pages; returns the ID token's sid. */
    async function appSignIn(email: string, password: string): Promise<{ browser: PageClient; sid: string; sub: string }> {
      const browser = await pageSignIn(t.baseUrl, email, password);
      const tokens = await codeFlow(rp, browser, REDIRECT);
      const claims = tokens.claims()!;
      assert.ok(typeof claims.sid === 'string');
      return { browser, sid: claims.sid as string, sub: claims.sub };
    }

    async function logoutTokenFor(sid: string): Promise<Record<string, unknown>> {
      const jwks = createRemoteJWKSet(new URL(`${t.issuer}/.well-known/jwks.json`));
      for (let waited = 0; waited < 15_000; waited += 100) {
        for (const request of receiver.received) {
          const token = new URLSearchParams(request.body).get('logout_token');
          if (!token) continue;
          const { payload } = await jwtVerify(token, jwks, { issuer: t.issuer, audience: client.client_id, typ: 'logout+jwt' });
          if (payload.sid === sid) return payload;
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error(`no logout token for sid ${sid}`);
    }

    test('revoke-others, a password change and a deactivation each send a verifiable logout token', async () => {
      const { email, password } = await registerUser(t.api);
      const other = await signIn(t.api, email, password);

      const first = await appSignIn(email, password);
      const revoked = await t.api.post('/auth/sessions/revoke-others', {}, other.accessToken);
      assert.equal(revoked.status, 200);
      const payload = await logoutTokenFor(first.sid);
      assert.equal(payload.sub, first.sub);
      assert.ok((payload.events as Record<string, unknown>)['http://schemas.openid.net/event/backchannel-logout']);
      assert.equal(payload.nonce, undefined);
      // The provider's session ended with it: the next authorization needs a sign-in.
      const verifier = oidcClient.randomPKCECodeVerifier();
      const url = oidcClient.buildAuthorizationUrl(rp, { redirect_uri: REDIRECT, scope: 'openid', code_challenge: await oidcClient.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
      const stopped = await followAuthorization(first.browser, url.href, REDIRECT);
      assert.equal(stopped.callback, undefined);
      assert.match(stopped.page!.html, /Sign in/);

      const second = await appSignIn(email, password);
      const changed = await t.api.post('/auth/password/change', { current_password: password, new_password: 'another long passphrase 2' }, other.accessToken);
      assert.equal(changed.status, 200);
      await logoutTokenFor(second.sid);

      const third = await appSignIn(email, 'another long passphrase 2');
      const users = await t.api.get(`/admin/users?limit=200`, t.adminToken);
      const userId = (users.body as Array<{ id: string; email: string }>).find((u) => u.email === email)!.id;
      assert.equal((await t.api.patch(`/admin/users/${userId}`, { is_active: false }, t.adminToken)).status, 200);
      await logoutTokenFor(third.sid);
    });

    test('refusals: near-miss redirect URI, no PKCE, plain PKCE, a reused code (its tokens die)', async () => {
      const challenge = await oidcClient.calculatePKCECodeChallenge(oidcClient.randomPKCECodeVerifier());
      const authorize = (params: Record<string, string>) =>
        fetch(`${t.issuer}/oidc/auth?${new URLSearchParams({ client_id: client.client_id, response_type: 'code', scope: 'openid', ...params })}`, { redirect: 'manual' });

      for (const near of ['https://app.example.com/callback/', 'https://app.example.com/Callback', 'https://app.example.com/callback?x=1', 'https://app.example.com:444/callback', 'http://app.example.com/callback']) {
        const response = await authorize({ redirect_uri: near, code_challenge: challenge, code_challenge_method: 'S256' });
        assert.equal(response.status, 400, near);
        assert.equal(response.headers.get('location'), null, `${near}: never redirected to`);
      }
      const noPkce = await authorize({ redirect_uri: REDIRECT });
      assert.match(noPkce.headers.get('location') ?? '', /^https:\/\/app\.example\.com\/callback\?error=invalid_request/);
      const plain = await authorize({ redirect_uri: REDIRECT, code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' });
      assert.match(plain.headers.get('location') ?? '', /error=invalid_request/);

      const { email, password } = await registerUser(t.api);
      const browser = await pageSignIn(t.baseUrl, email, password);
      const verifier = oidcClient.randomPKCECodeVerifier();
      const url = oidcClient.buildAuthorizationUrl(rp, { redirect_uri: REDIRECT, scope: 'openid', code_challenge: await oidcClient.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
      const { callback } = await followAuthorization(browser, url.href, REDIRECT);
      assert.ok(callback);
      const tokens = await oidcClient.authorizationCodeGrant(rp, callback, { pkceCodeVerifier: verifier, expectedState: oidcClient.skipStateCheck });
      await assert.rejects(oidcClient.authorizationCodeGrant(rp, callback, { pkceCodeVerifier: verifier, expectedState: oidcClient.skipStateCheck }), isOAuthError('invalid_grant'));
      await assert.rejects(oidcClient.fetchUserInfo(rp, tokens.access_token, oidcClient.skipSubjectCheck), isOAuthError('invalid_token'));
    });

    test('an aal1 session at a require_mfa client gets no code; the page says why', async () => {
      const strict = await registerClient(t, {
        name: 'Admin console',
        first_party: true,
        require_mfa: true,
        grant_types: ['authorization_code'],
        token_endpoint_auth_method: 'client_secret_post',
        redirect_uris: [REDIRECT],
        scopes: ['openid'],
      });
      const strictRp = await relyingParty(t, strict.client_id, oidcClient.ClientSecretPost(strict.client_secret));
      const { email, password } = await registerUser(t.api);
      const browser = await pageSignIn(t.baseUrl, email, password);
      const verifier = oidcClient.randomPKCECodeVerifier();
      const url = oidcClient.buildAuthorizationUrl(strictRp, { redirect_uri: REDIRECT, scope: 'openid', code_challenge: await oidcClient.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
      const result = await followAuthorization(browser, url.href, REDIRECT);
      assert.equal(result.callback, undefined);
      assert.match(result.page!.html, /requires two-step verification/);
    });
  });
}
