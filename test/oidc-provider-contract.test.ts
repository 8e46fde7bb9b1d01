// The parts of the OpenID Provider contract that relying parties use and the first tests left
// out: the discovery document, introspection for authenticated clients only, the second factor
// through /oidc/auth, claims by scope, form_post, max_age, login_hint, prompt=login, loopback
// redirects of any port (RFC 8252 §7.3), PATCH of a client. openid-client is the relying party.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { DATABASE_KINDS } from './helpers/database.js';
import { registerUser, signIn } from './helpers/fixtures.js';
import { programArgs } from './helpers/entry.js';
import { codeAt, enrolTotp } from './helpers/mfa.js';
import { codeFlow, followAuthorization, oidcClient, registerClient, relyingParty, startProviderApp, type ProviderApp } from './helpers/oidc-rp.js';
import { PageClient, pageSignIn, type PageResponse } from './helpers/page-client.js';

const REDIRECT = 'https://app.example.com/callback';

/** A code + PKCE authorization URL for `rp`, with its verifier. */
async function authorizationUrl(rp: oidcClient.Configuration, redirectUri: string, params: Record<string, string>) {
  const verifier = oidcClient.randomPKCECodeVerifier();
  const state = oidcClient.randomState();
  const url = oidcClient.buildAuthorizationUrl(rp, {
    redirect_uri: redirectUri,
    scope: 'openid',
    code_challenge: await oidcClient.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    ...params,
  });
  return { url: url.href, verifier, state };
}

/** Signs in on the hosted sign-in page the authorization stopped at (and the MFA step), then follows on. */
async function signInOnPage(browser: PageClient, page: PageResponse, redirectBase: string, login: { email: string; password: string; totp?: () => string }) {
  const next = /name="next" value="([^"]+)"/.exec(page.html)?.[1];
  assert.ok(next, `a sign-in page: ${page.html.slice(0, 200)}`);
  const again = page.html.includes('name="again" value="1"') ? { again: '1' } : {};
  let response = await browser.post('/ui/sign-in', { email: login.email, password: login.password, next: next.replaceAll('&amp;', '&'), ...(again as Record<string, string>) });
  assert.equal(response.status, 303);
  if (login.totp) {
    assert.match(response.location ?? '', /^\/ui\/mfa/, 'the second factor is asked for');
    const mfa = await browser.get(response.location!);
    const mfaNext = /name="next" value="([^"]+)"/.exec(mfa.html)?.[1] ?? '';
    response = await browser.post('/ui/mfa', { code: login.totp(), next: mfaNext.replaceAll('&amp;', '&') });
    assert.equal(response.status, 303);
  }
  return followAuthorization(browser, response.location!, redirectBase);
}

for (const kind of DATABASE_KINDS) {
  describe(`OpenID Provider contract (${kind})`, () => {
    let t: ProviderApp;
    let web: Awaited<ReturnType<typeof registerClient>>;
    let rp: oidcClient.Configuration;
    before(async () => {
      t = await startProviderApp(kind);
      web = await registerClient(t, { first_party: true, grant_types: ['authorization_code'], token_endpoint_auth_method: 'client_secret_basic', redirect_uris: [REDIRECT], scopes: ['openid', 'email', 'profile', 'account'] });
      rp = await relyingParty(t, web.client_id, oidcClient.ClientSecretBasic(web.client_secret));
    });
    after(async () => t?.close());

    test('discovery names every endpoint and capability of the contract', async () => {
      const doc = (await (await fetch(`${t.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
      assert.equal(doc.end_session_endpoint, `${t.issuer}/oidc/session/end`);
      assert.equal(doc.revocation_endpoint, `${t.issuer}/oidc/token/revocation`);
      assert.equal(doc.introspection_endpoint, `${t.issuer}/oidc/token/introspection`);
      assert.equal(doc.pushed_authorization_request_endpoint, `${t.issuer}/oidc/request`);
      assert.equal(doc.device_authorization_endpoint, `${t.issuer}/oidc/device/auth`);
      assert.equal(doc.userinfo_endpoint, `${t.issuer}/oidc/me`);
      assert.equal(doc.backchannel_logout_supported, true);
      assert.ok((doc.dpop_signing_alg_values_supported as string[]).includes('ES256'));
      for (const scope of ['openid', 'profile', 'email', 'account', 'offline_access']) assert.ok((doc.scopes_supported as string[]).includes(scope), scope);
      for (const claim of ['sub', 'name', 'zoneinfo', 'updated_at', 'email', 'email_verified', 'account_id', 'account_role', 'role', 'acr', 'amr', 'auth_time']) {
        assert.ok((doc.claims_supported as string[]).includes(claim), claim);
      }
      assert.deepEqual(doc.acr_values_supported, ['aal1', 'aal2']);
      assert.ok((doc.response_modes_supported as string[]).includes('form_post'));
    });

    test('introspection: a confidential client learns about a token, a public (none) client never does', async () => {
      const spa = await registerClient(t, { first_party: true, grant_types: ['authorization_code'], token_endpoint_auth_method: 'none', redirect_uris: [REDIRECT], scopes: ['openid'] });
      const publicRp = await relyingParty(t, spa.client_id);
      const { email, password, user } = await registerUser(t.api);
      const browser = await pageSignIn(t.baseUrl, email, password);
      const own = await codeFlow(publicRp, browser, REDIRECT, { scope: 'openid' });
      const introspected = await oidcClient.tokenIntrospection(publicRp, own.access_token);
      assert.equal(introspected.active, false, 'a public client cannot introspect, not even its own token');

      const confidential = await codeFlow(rp, browser, REDIRECT, { scope: 'openid' });
      const answer = await oidcClient.tokenIntrospection(rp, confidential.access_token);
      assert.equal(answer.active, true);
      assert.equal(answer.sub, user.id);
      assert.equal(answer.client_id, web.client_id);
    });

    test('a TOTP user passes the second factor at /oidc/auth: acr aal2, amr as in 0.2', async () => {
      const { email, password } = await registerUser(t.api);
      const { accessToken } = await signIn(t.api, email, password);
      const { secret } = await enrolTotp(t.api, t.clock, accessToken);
      const browser = new PageClient(t.baseUrl);
      const { url, verifier, state } = await authorizationUrl(rp, REDIRECT, {});
      const { page } = await followAuthorization(browser, url, REDIRECT);
      assert.ok(page, 'the sign-in page');
      const { callback } = await signInOnPage(browser, page, REDIRECT, { email, password, totp: () => codeAt(secret, t.clock) });
      assert.ok(callback, 'back at the client');
      const tokens = await oidcClient.authorizationCodeGrant(rp, callback, { pkceCodeVerifier: verifier, expectedState: state });
      const claims = tokens.claims()!;
      assert.equal(claims.acr, 'aal2');
      assert.deepEqual(claims.amr, ['pwd', 'otp']);
    });

    test('acr_values=aal2 for a user without a second factor: asked to set one up', async () => {
      const { email, password } = await registerUser(t.api);
      const browser = await pageSignIn(t.baseUrl, email, password);
      const { url } = await authorizationUrl(rp, REDIRECT, { acr_values: 'aal2' });
      const { callback, page } = await followAuthorization(browser, url, REDIRECT);
      assert.equal(callback, undefined);
      assert.equal(page?.status, 200);
      assert.match(page!.html, /Two-step verification required/);
      assert.match(page!.html, /href="\/ui\/account#totp"/);
    });

    test('claims of the profile and account scopes, in the ID token and userinfo', async () => {
      const { email, password, user } = await registerUser(t.api);
      const me = (await t.api.get('/auth/me', (await signIn(t.api, email, password)).accessToken)).body;
      const browser = await pageSignIn(t.baseUrl, email, password);
      const tokens = await codeFlow(rp, browser, REDIRECT, { scope: 'openid profile account' });
      const idClaims = tokens.claims()!;
      const userinfo = await oidcClient.fetchUserInfo(rp, tokens.access_token, user.id);
      for (const claims of [idClaims, userinfo] as Array<Record<string, unknown>>) {
        assert.equal(claims.sub, user.id);
        assert.equal(claims.name, 'Test User');
        assert.equal(typeof claims.updated_at, 'number');
        assert.ok('zoneinfo' in claims || me.timezone == null, 'zoneinfo when the user has a time zone');
        assert.equal(claims.account_id, me.account_id);
        assert.equal(claims.account_role, me.account_role);
        assert.equal(claims.role, me.role);
        assert.equal(claims.email, undefined, 'email is not granted');
      }
    });

    test('response_mode=form_post: the code comes back in an auto-submitted form', async () => {
      const { email, password, user } = await registerUser(t.api);
      const browser = await pageSignIn(t.baseUrl, email, password);
      const { url, verifier, state } = await authorizationUrl(rp, REDIRECT, { response_mode: 'form_post' });
      const { callback, page } = await followAuthorization(browser, url, REDIRECT);
      assert.equal(callback, undefined, 'not a redirect');
      assert.ok(page!.html.includes(`action="${REDIRECT}"`), page!.html.slice(0, 300));
      const field = (name: string) => new RegExp(`name="${name}" value="([^"]+)"`).exec(page!.html)?.[1];
      assert.equal(field('state'), state);
      const body = new URLSearchParams({ code: field('code')!, state: field('state')!, iss: field('iss')! });
      const request = new Request(REDIRECT, { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      const tokens = await oidcClient.authorizationCodeGrant(rp, request, { pkceCodeVerifier: verifier, expectedState: state });
      assert.equal(tokens.claims()!.sub, user.id);
    });

    test('max_age and prompt=login ask for a new sign-in; login_hint prefills the email', async () => {
      const { email, password, user } = await registerUser(t.api);
      // A browser signed in ten minutes ago. (The pages' clock is the test's, the provider's the
      // real one: the sign-ins this test compares with a request are made in the test's past.)
      t.clock.advanceSeconds(-600);
      let browser: PageClient;
      try {
        browser = await pageSignIn(t.baseUrl, email, password);
      } finally {
        t.clock.advanceSeconds(600);
      }
      const recent = await codeFlow(rp, browser, REDIRECT, { max_age: '3600' });
      assert.equal(recent.claims()!.sub, user.id, 'a sign-in within max_age is used as it is');

      const login = await authorizationUrl(rp, REDIRECT, { prompt: 'login' });
      const asked = await followAuthorization(browser, login.url, REDIRECT);
      assert.ok(asked.page?.html.includes('name="again" value="1"'), 'prompt=login: the sign-in page although signed in');
      const old = await authorizationUrl(rp, REDIRECT, { max_age: '300' });
      const stopped = await followAuthorization(browser, old.url, REDIRECT);
      assert.ok(stopped.page?.html.includes('name="again" value="1"'), 'max_age exceeded: the sign-in page again');
      const { callback, page: after } = await signInOnPage(browser, stopped.page!, REDIRECT, { email, password });
      assert.ok(callback, `back at the client after signing in again: ${after?.status} ${after?.html.match(/<h1>[^<]*|alert[^<]*<p>[^<]*/g)}`);
      const tokens = await oidcClient.authorizationCodeGrant(rp, callback!, { pkceCodeVerifier: old.verifier, expectedState: old.state, maxAge: 300 });
      assert.ok(Math.abs((tokens.claims()!.auth_time as number) - Date.now() / 1000) < 120);

      const fresh = new PageClient(t.baseUrl);
      const hinted = await authorizationUrl(rp, REDIRECT, { login_hint: email });
      const prefilled = await followAuthorization(fresh, hinted.url, REDIRECT);
      assert.ok(prefilled.page?.html.includes(`value="${email}"`), 'login_hint prefills the email field');
    });

    test('a loopback redirect URI matches with any port (RFC 8252 §7.3); a foreign one is refused', async () => {
      const native = await registerClient(t, { first_party: true, grant_types: ['authorization_code'], token_endpoint_auth_method: 'none', redirect_uris: ['http://127.0.0.1:4000/cb'], scopes: ['openid'] });
      const nativeRp = await relyingParty(t, native.client_id);
      const { email, password, user } = await registerUser(t.api);
      const browser = await pageSignIn(t.baseUrl, email, password);
      const tokens = await codeFlow(nativeRp, browser, 'http://127.0.0.1:51234/cb', { scope: 'openid' });
      assert.equal(tokens.claims()!.sub, user.id);

      for (const foreign of ['https://evil.example.com/cb', 'http://127.0.0.1:51234/other', 'http://localhost:4000/cb']) {
        const { url } = await authorizationUrl(nativeRp, foreign, {});
        const { callback, page } = await followAuthorization(browser, url, foreign);
        assert.equal(callback, undefined, foreign);
        assert.equal(page?.status, 400, foreign);
      }
    });

    test('PATCH /admin/oauth-clients/{id} changes a client; the provider sees the change', async () => {
      const client = await registerClient(t, { grant_types: ['authorization_code'], token_endpoint_auth_method: 'client_secret_basic', redirect_uris: [REDIRECT], scopes: ['openid'] });
      const patched = await t.api.patch(`/admin/oauth-clients/${client.client_id}`, { name: 'Renamed app', redirect_uris: ['https://new.example.com/cb'] }, t.adminToken);
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      assert.equal(patched.body.name, 'Renamed app');
      assert.deepEqual(patched.body.redirect_uris, ['https://new.example.com/cb']);
      assert.equal(patched.body.client_secret, undefined);
      assert.equal((await t.api.patch(`/admin/oauth-clients/${client.client_id}`, { redirect_uris: ['http://app.example.com/cb'] }, t.adminToken)).status, 422);
      assert.equal((await t.api.patch('/admin/oauth-clients/nope', { name: 'x' }, t.adminToken)).status, 404);

      const patchedRp = await relyingParty(t, client.client_id, oidcClient.ClientSecretBasic(client.client_secret));
      const { email, password } = await registerUser(t.api);
      const browser = await pageSignIn(t.baseUrl, email, password);
      const { url } = await authorizationUrl(patchedRp, REDIRECT, {});
      const { callback, page } = await followAuthorization(browser, url, REDIRECT);
      assert.equal(callback, undefined, 'the old redirect URI no longer works');
      assert.equal(page?.status, 400);
    });
  });
}

describe('OpenID Provider configuration', () => {
  test('the server refuses to start with the provider on and PUBLIC_URL unset or not https', () => {
    for (const [publicUrl, message] of [
      [undefined, 'Invalid configuration: PUBLIC_URL must be set when OIDC_PROVIDER_ENABLED=true (it is the issuer)\n'],
      ['http://auth.example.com', 'Invalid configuration: PUBLIC_URL must be an https:// URL when OIDC_PROVIDER_ENABLED=true (http:// only for localhost or 127.0.0.1)\n'],
    ] as const) {
      const env = { PATH: process.env.PATH, DATA_DIR: '/nonexistent', OIDC_PROVIDER_ENABLED: 'true', JWT_ALGORITHM: 'ES256', ...(publicUrl ? { PUBLIC_URL: publicUrl } : {}) };
      const result = spawnSync(process.execPath, programArgs('server'), { env, encoding: 'utf8', timeout: 30_000 });
      assert.equal(result.status, 1, result.stderr);
      assert.equal(result.stderr, message);
    }
  });
});
