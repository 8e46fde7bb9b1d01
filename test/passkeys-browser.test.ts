// A real browser registers a passkey and signs in with it: Debian's Chromium driven by
// playwright-core, with Chromium's virtual authenticator (CDP WebAuthn domain), on a small page
// this test serves at http://localhost:<port> (a secure context), which proxies /api to the app.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { startTestApp, type TestApp } from './helpers/app.js';
import { launchPageBrowser, skipWithoutChromium, type PageBrowser } from './helpers/page-browser.js';
import { registerAndSignIn } from './helpers/fixtures.js';


// The front end: WebAuthn's own JSON helpers (Chromium 129+) turn the server's options into
// what navigator.credentials takes, and the credential back into JSON.
const PAGE = `<!doctype html><meta charset="utf-8"><title>Keyhold passkeys</title>
<script>
const api = (path, body, token) => fetch('/api/v1' + path, {
  method: 'POST',
  headers: { 'content-type': 'application/json', ...(token ? { authorization: 'Bearer ' + token } : {}) },
  body: JSON.stringify(body ?? {}),
}).then(async (r) => ({ status: r.status, body: await r.json() }));
window.registerPasskey = async (token) => {
  const options = await api('/auth/passkeys/register/options', {}, token);
  const credential = await navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options.body) });
  return api('/auth/passkeys/register/verify', { response: credential.toJSON(), name: 'Chromium' }, token);
};
window.signInWithPasskey = async () => {
  const { body } = await api('/auth/passkeys/login/options');
  const credential = await navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(body.options) });
  return api('/auth/passkeys/login/verify', { challenge_id: body.challenge_id, response: credential.toJSON() });
};
</script>`;

describe('passkeys in a real browser (Chromium, virtual authenticator)', { skip: skipWithoutChromium }, () => {
  let t: TestApp;
  let page: Server;
  let origin: string;
  let browser: PageBrowser;

  before(async () => {
    let apiBase = '';
    page = createServer(async (request, response) => {
      if (!request.url?.startsWith('/api/')) {
        response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
        return;
      }
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      const headers: Record<string, string> = {};
      for (const name of ['content-type', 'authorization']) if (typeof request.headers[name] === 'string') headers[name] = request.headers[name];
      const upstream = await fetch(`${apiBase}${request.url}`, { method: request.method, headers, body: chunks.length ? Buffer.concat(chunks) : undefined });
      response.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' }).end(Buffer.from(await upstream.arrayBuffer()));
    });
    await new Promise<void>((resolve) => page.listen(0, '127.0.0.1', resolve));
    const { port } = page.address() as { port: number };
    origin = `http://localhost:${port}`;
    t = await startTestApp('pglite', { env: { WEBAUTHN_RP_ID: 'localhost', WEBAUTHN_ORIGINS: origin, WEBAUTHN_RP_NAME: 'Keyhold test' } });
    apiBase = t.baseUrl;
    browser = await launchPageBrowser();
  });
  after(async () => {
    await browser?.close();
    await t?.close();
    await new Promise((resolve) => page?.close(resolve));
  });

  it('registers a passkey on the page and signs in with it', { timeout: 60_000 }, async () => {
    const { context } = browser;
    const tab = context.pages()[0] ?? (await context.newPage());
    const cdp = await context.newCDPSession(tab);
    await cdp.send('WebAuthn.enable');
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
    });
    await tab.goto(`${origin}/`);

    const user = await registerAndSignIn(t.api);
    const registered = await tab.evaluate((token) => (globalThis as unknown as { registerPasskey(t: string): Promise<{ status: number; body: { name: string } }> }).registerPasskey(token), user.accessToken);
    assert.equal(registered.status, 201, JSON.stringify(registered.body));
    assert.equal(registered.body.name, 'Chromium');
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    assert.equal(credentials.length, 1);
    assert.equal(credentials[0]!.isResidentCredential, true, 'a discoverable credential');

    const signedIn = await tab.evaluate(() => (globalThis as unknown as { signInWithPasskey(): Promise<{ status: number; body: { access_token: string } }> }).signInWithPasskey());
    assert.equal(signedIn.status, 200, JSON.stringify(signedIn.body));
    const claims = decodeJwt(signedIn.body.access_token);
    assert.equal(claims.sub, user.id);
    assert.deepEqual(claims.amr, ['passkey']);
    assert.equal(claims.aal, 'aal2', 'the virtual authenticator verified the user');
  });
});
