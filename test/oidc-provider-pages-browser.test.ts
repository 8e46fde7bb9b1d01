// The OpenID Provider's own pages in the hosted pages' look, in Chromium (issue 27): the device
// flow (RFC 8628) end to end with openid-client's device authorization grant (the code entry
// page, a wrong code, the confirmation, sign-in and consent on the hosted pages, the success
// page), then RP-initiated logout with id_token_hint and a registered post_logout_redirect_uri
// (the confirmation page, back at the client, the hosted pages signed out), and logout without
// a client (the farewell page). Every page passes the pages' check (axe, light and dark, 360 px)
// and breaks no Content-Security-Policy.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { registerUser } from './helpers/fixtures.js';
import { oidcClient, registerClient, relyingParty, startProviderApp, type ProviderApp } from './helpers/oidc-rp.js';
import { activate, checkPage, launchPageBrowser, skipWithoutChromium, submitWithEnter, tabTo, typeInto, type PageBrowser } from './helpers/page-browser.js';

async function startRp(): Promise<{ server: Server; base: string }> {
  const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('OpenID Provider pages (device flow, logout) in Chromium', { skip: skipWithoutChromium }, () => {
  let t: ProviderApp;
  let browser: PageBrowser;
  let rpServer: { server: Server; base: string };

  before(async () => {
    t = await startProviderApp('pglite');
    browser = await launchPageBrowser();
    rpServer = await startRp();
  });
  after(async () => {
    await browser?.close();
    await new Promise((resolve) => rpServer?.server.close(resolve));
    await t?.close();
  });

  test('device flow through the hosted pages, then RP-initiated logout back to the client', async () => {
    const tv = await registerClient(t, {
      name: 'Living-room TV',
      grant_types: ['urn:ietf:params:oauth:grant-type:device_code'],
      token_endpoint_auth_method: 'none',
      redirect_uris: [],
      post_logout_redirect_uris: [`${rpServer.base}/signed-out`],
      scopes: ['openid', 'email'],
    });
    const device = await relyingParty(t, tv.client_id);
    const { email, password, user } = await registerUser(t.api);
    const started = await oidcClient.initiateDeviceAuthorization(device, { scope: 'openid email' });
    const polled = oidcClient.pollDeviceAuthorizationGrant(device, { ...started, interval: 1 });

    await browser.context.clearCookies();
    const page = await browser.context.newPage();
    await page.goto(started.verification_uri);
    await checkPage(page, 'device-code');
    // A wrong code is refused beside its field.
    await typeInto(page, '#f-user_code', 'BCDF-GHJK');
    await submitWithEnter(page);
    assert.match(await page.locator('#f-user_code-error').innerText(), /not right/);
    await page.fill('#f-user_code', started.user_code);
    await submitWithEnter(page);
    assert.equal(await page.locator('h1').innerText(), 'Connect Living-room TV?');
    assert.match(await page.locator('main').innerText(), new RegExp(started.user_code));
    await checkPage(page, 'device-confirm');
    await activate(page, 'button.button-primary');

    // Not signed in: the hosted sign-in, then consent, then the success page.
    assert.equal(new URL(page.url()).pathname, '/ui/sign-in');
    await typeInto(page, '#f-email', email);
    await typeInto(page, '#f-password', password);
    await submitWithEnter(page);
    assert.match(await page.locator('h1').innerText(), /Living-room TV wants to access your account/);
    await activate(page, 'button[value=allow]');
    assert.equal(await page.locator('h1').innerText(), 'Device connected');
    await checkPage(page, 'device-done');

    const tokens = await polled;
    assert.equal(tokens.claims()!.sub, user.id);

    // RP-initiated logout: the confirmation in the pages' look, then back at the client.
    const endSession = oidcClient.buildEndSessionUrl(device, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: `${rpServer.base}/signed-out`, state: 'bye' });
    await page.goto(endSession.href);
    assert.equal(await page.locator('h1').innerText(), 'Sign out?');
    assert.match(await page.locator('main').innerText(), /Living-room TV asks to sign you out/);
    await checkPage(page, 'sign-out-confirm');
    await tabTo(page, 'button[name=logout][value=yes]');
    await Promise.all([page.waitForURL((url) => url.href.startsWith(`${rpServer.base}/signed-out`)), page.keyboard.press('Enter')]);
    assert.equal(new URL(page.url()).searchParams.get('state'), 'bye');
    // The hosted pages' sign-in ended with it.
    await page.goto(`${t.issuer}/ui/account`);
    assert.equal(new URL(page.url()).pathname, '/ui/sign-in');
    assert.deepEqual(browser.policyViolations, []);
    await page.close();
  });

  test('logout without a client ends on the farewell page; a forged form is refused', async () => {
    const web = await registerClient(t, { name: 'Wiki', first_party: true, grant_types: ['urn:ietf:params:oauth:grant-type:device_code'], token_endpoint_auth_method: 'none', redirect_uris: [], scopes: ['openid'] });
    const device = await relyingParty(t, web.client_id);
    const { email, password } = await registerUser(t.api);
    const started = await oidcClient.initiateDeviceAuthorization(device, { scope: 'openid' });
    await browser.context.clearCookies();
    const page = await browser.context.newPage();
    await page.goto(started.verification_uri_complete!);
    await activate(page, 'button.button-primary');
    await typeInto(page, '#f-email', email);
    await typeInto(page, '#f-password', password);
    await submitWithEnter(page);
    assert.equal(await page.locator('h1').innerText(), 'Device connected');

    await page.goto(`${t.issuer}/oidc/session/end`);
    assert.match(await page.locator('main').innerText(), /Do you want to sign out of/);
    // The provider's xsrf token guards the form: a post without it is refused, and nobody is signed out.
    const forged = await page.request.post(`${t.issuer}/oidc/session/end/confirm`, { form: { logout: 'yes', xsrf: 'forged' } });
    assert.equal(forged.status(), 400);
    await activate(page, 'button[name=logout][value=yes]');
    assert.equal(await page.locator('h1').innerText(), 'You have signed out');
    await checkPage(page, 'signed-out');
    assert.deepEqual(browser.policyViolations, []);
    await page.close();
  });
});
