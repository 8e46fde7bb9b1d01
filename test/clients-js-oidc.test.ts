// @keyhold/client's OpenID Connect redirect flow against Keyhold's own provider: a public
// client (an SPA) signs a user in through the hosted pages with code + PKCE, reads userinfo,
// refreshes at the token endpoint (one rotation for concurrent callers: a second presentation
// of a provider refresh token would end the grant), and builds the RP-initiated logout URL.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createKeyholdClient, KeyholdError, memoryStorage } from '../clients/js/src/index.js';
import { registerUser } from './helpers/fixtures.js';
import { followAuthorization, registerClient, startProviderApp, type ProviderApp } from './helpers/oidc-rp.js';
import { pageSignIn } from './helpers/page-client.js';

const REDIRECT = 'http://127.0.0.1:4999/callback';

describe('@keyhold/client: the OIDC redirect flow against the OpenID Provider', () => {
  let t: ProviderApp;
  let clientId: string;
  before(async () => {
    t = await startProviderApp('pglite');
    const registered = await registerClient(t, {
      name: 'Single-page app',
      grant_types: ['authorization_code', 'refresh_token'],
      token_endpoint_auth_method: 'none',
      redirect_uris: [REDIRECT],
      post_logout_redirect_uris: ['http://127.0.0.1:4999/'],
      scopes: ['openid', 'profile', 'email', 'offline_access'],
    });
    clientId = registered.client_id;
  });
  after(() => t?.close());

  it('signs in with code + PKCE, reads userinfo, refreshes once for many callers, and logs out', async () => {
    const user = await registerUser(t.api);
    const keyhold = createKeyholdClient({ baseUrl: t.issuer, storage: memoryStorage(), transientStorage: memoryStorage() });
    const url = await keyhold.oidc.authorizationUrl({ clientId, redirectUri: REDIRECT, scope: 'openid email offline_access', prompt: 'consent' });
    assert.match(url, /code_challenge_method=S256/);
    const browser = await pageSignIn(t.baseUrl, user.email, user.password);
    const { callback, page } = await followAuthorization(browser, url, REDIRECT);
    assert.ok(callback, `the authorization stopped at a page: ${page?.status}`);

    const tokens = await keyhold.oidc.handleCallback(callback.href);
    assert.equal(tokens.claims.sub, user.user.id);
    assert.equal(tokens.claims.email, user.email);
    const replay = await keyhold.oidc.handleCallback(callback.href).catch((err: unknown) => err);
    assert.ok(replay instanceof KeyholdError && replay.code === 'invalid_state', 'a callback completes once');

    const { userinfo_endpoint } = (await keyhold.oidc.discover()) as unknown as { userinfo_endpoint: string };
    const userinfo = async () => (await keyhold.fetch(userinfo_endpoint)).json() as Promise<{ sub: string }>;
    assert.equal((await userinfo()).sub, user.user.id);

    const before = await keyhold.getAccessToken();
    await Promise.all(Array.from({ length: 5 }, () => keyhold.refresh()));
    const after = await keyhold.getAccessToken();
    assert.notEqual(after, before, 'refreshed at the token endpoint');
    // Had two of the five presented one refresh token, the provider would have revoked the grant.
    assert.equal((await userinfo()).sub, user.user.id, 'the grant lives on');
    await keyhold.refresh();
    assert.equal((await userinfo()).sub, user.user.id);

    const logout = await keyhold.oidc.logoutUrl('http://127.0.0.1:4999/');
    assert.ok(logout?.startsWith(`${t.issuer}/oidc/`), logout ?? 'no end-session endpoint');
    assert.match(logout ?? "", /id_token_hint=/);
    assert.equal(await keyhold.getAccessToken(), null, 'signed out here');
  });

  it('refuses a callback carrying an error or an unknown state', async () => {
    const keyhold = createKeyholdClient({ baseUrl: t.issuer, storage: memoryStorage(), transientStorage: memoryStorage() });
    const unknown = await keyhold.oidc.handleCallback(`${REDIRECT}?code=x&state=never-issued`).catch((err: unknown) => err);
    assert.ok(unknown instanceof KeyholdError && unknown.code === 'invalid_state');
    const url = new URL(await keyhold.oidc.authorizationUrl({ clientId, redirectUri: REDIRECT }));
    const denied = await keyhold.oidc.handleCallback(`${REDIRECT}?error=access_denied&state=${url.searchParams.get('state')}`).catch((err: unknown) => err);
    assert.ok(denied instanceof KeyholdError && denied.code === 'access_denied');
  });
});
