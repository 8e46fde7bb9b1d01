// Keyhold as an OpenID Provider with a real relying party (openid-client) and a real browser
// (Chromium): authorization code + PKCE through the hosted pages (sign-in, consent), the ID
// token and userinfo, refresh rotation and reuse, revocation, single sign-on for a second
// authorization, prompt=none, and RP-initiated logout ending the hosted pages' session.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { registerUser } from './helpers/fixtures.js';
import { isOAuthError, oidcClient, registerClient, relyingParty, startProviderApp, type ProviderApp, type RegisteredClient } from './helpers/oidc-rp.js';
import { launchPageBrowser, skipWithoutChromium, type PageBrowser } from './helpers/page-browser.js';

/** The relying party's redirect target: answers 200 and remembers where the browser landed. */
async function startCallbackServer(): Promise<{ server: Server; base: string }> {
  const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('OpenID Provider in Chromium with openid-client', { skip: skipWithoutChromium }, () => {
  let t: ProviderApp;
  let browser: PageBrowser;
  let callback: { server: Server; base: string };
  let client: RegisteredClient;
  let rp: oidcClient.Configuration;
  let user: { id: string; email: string; password: string };

  before(async () => {
    t = await startProviderApp('pglite');
    browser = await launchPageBrowser();
    callback = await startCallbackServer();
    client = await registerClient(t, {
      name: 'Invoices',
      grant_types: ['authorization_code', 'refresh_token'],
      token_endpoint_auth_method: 'client_secret_basic',
      redirect_uris: [`${callback.base}/callback`],
      post_logout_redirect_uris: [`${callback.base}/signed-out`],
      scopes: ['openid', 'profile', 'email', 'account', 'offline_access'],
    });
    rp = await relyingParty(t, client.client_id, oidcClient.ClientSecretBasic(client.client_secret));
    const registered = await registerUser(t.api, { name: 'Ada Lovelace' });
    user = { id: registered.user.id, email: registered.email, password: registered.password };
  });
  after(async () => {
    await browser?.close();
    await new Promise((resolve) => callback?.server.close(resolve));
    await t?.close();
  });

  async function authorize(page: Page, extra: Record<string, string> = {}) {
    const verifier = oidcClient.randomPKCECodeVerifier();
    const state = oidcClient.randomState();
    const nonce = oidcClient.randomNonce();
    const params: Record<string, string> = {
      redirect_uri: `${callback.base}/callback`,
      scope: 'openid profile email account offline_access',
      code_challenge: await oidcClient.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
      prompt: 'consent',
      ...extra,
    };
    // An empty value leaves the parameter out.
    for (const [name, value] of Object.entries(params)) if (value === '') delete params[name];
    await page.goto(oidcClient.buildAuthorizationUrl(rp, params).href);
    return { verifier, state, nonce };
  }

  const landed = (page: Page) => page.waitForURL((url) => url.href.startsWith(`${callback.base}/callback`), { timeout: 15_000 });

  test('code + PKCE through sign-in and consent; ID token, userinfo, refresh rotation, reuse kills the grant, revocation', async () => {
    const page = await browser.context.newPage();
    const checks = await authorize(page);
    await page.waitForURL(/\/ui\/sign-in/);
    await page.fill('input[name=email]', user.email);
    await page.fill('input[name=password]', user.password);
    await page.click('button[type=submit]');
    await page.waitForURL(/\/ui\/authorize\//);
    assert.match(await page.textContent('h1') ?? '', /Invoices wants to access your account/);
    await page.click('button[value=allow]');
    await landed(page);

    const tokens = await oidcClient.authorizationCodeGrant(rp, new URL(page.url()), {
      pkceCodeVerifier: checks.verifier,
      expectedState: checks.state,
      expectedNonce: checks.nonce,
    });
    const claims = tokens.claims()!;
    assert.equal(claims.sub, user.id);
    assert.equal(claims.email, user.email);
    assert.equal(claims.name, 'Ada Lovelace');
    assert.equal(claims.acr, 'aal1');
    assert.ok(claims.account_id);
    assert.ok(tokens.refresh_token, 'offline_access gives a refresh token');

    const info = await oidcClient.fetchUserInfo(rp, tokens.access_token, user.id);
    assert.equal(info.email, user.email);
    assert.equal(info.email_verified, false);

    const refreshed = await oidcClient.refreshTokenGrant(rp, tokens.refresh_token!);
    assert.ok(refreshed.refresh_token && refreshed.refresh_token !== tokens.refresh_token, 'refresh tokens rotate');
    // The used one again: the whole grant dies, the new refresh token with it.
    await assert.rejects(oidcClient.refreshTokenGrant(rp, tokens.refresh_token!), isOAuthError('invalid_grant'));
    await assert.rejects(oidcClient.refreshTokenGrant(rp, refreshed.refresh_token!), isOAuthError('invalid_grant'));

    // The apps list shows the consent; a second authorization in this browser asks nothing.
    const bearer = (await t.api.post('/auth/login/json', { email: user.email, password: user.password })).body.access_token;
    const apps = await t.api.get('/auth/me/apps', bearer);
    assert.equal(apps.status, 200);
    const unknownApp = await t.api.request('DELETE', '/auth/me/apps/no-such-app', { token: bearer });
    assert.deepEqual([unknownApp.status, unknownApp.body.code], [404, 'app_not_found']);
    assert.deepEqual(apps.body.map((app: { client_id: string }) => app.client_id), [client.client_id]);

    // (Not prompt=none: oidc-provider refuses silent authorization to a native client, as this
    // loopback one is; the hosted pages are still passed through without asking anything.)
    const again = await authorize(page, { prompt: '', scope: 'openid email' });
    await landed(page);
    const second = await oidcClient.authorizationCodeGrant(rp, new URL(page.url()), { pkceCodeVerifier: again.verifier, expectedState: again.state, expectedNonce: again.nonce });
    assert.equal(second.claims()!.sub, user.id);
    await oidcClient.tokenRevocation(rp, second.access_token);
    await assert.rejects(oidcClient.fetchUserInfo(rp, second.access_token, user.id), isOAuthError('invalid_token'));

    // RP-initiated logout ends the provider's session and the hosted pages' sign-in.
    const endSession = oidcClient.buildEndSessionUrl(rp, { id_token_hint: second.id_token!, post_logout_redirect_uri: `${callback.base}/signed-out` });
    await page.goto(endSession.href);
    await page.click('button[value=yes], button[name=logout]');
    await page.waitForURL((url) => url.href.startsWith(`${callback.base}/signed-out`), { timeout: 15_000 });
    await page.goto(`${t.issuer}/ui/account`);
    await page.waitForURL(/\/ui\/sign-in/);
    assert.deepEqual(browser.policyViolations, []);
    await page.close();
  });

  test('prompt=none without a session answers login_required to the client', async () => {
    const context = await browser.context.browser()?.newContext();
    const page = context ? await context.newPage() : await browser.context.newPage();
    await page.context().clearCookies();
    const checks = await authorize(page, { prompt: 'none' });
    await landed(page);
    await assert.rejects(
      oidcClient.authorizationCodeGrant(rp, new URL(page.url()), { pkceCodeVerifier: checks.verifier, expectedState: checks.state }),
      isOAuthError('login_required'),
    );
    await page.close();
  });
});
