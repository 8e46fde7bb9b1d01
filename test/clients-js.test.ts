// @keyhold/client (clients/js) against a real Keyhold: typed from the served OpenAPI document,
// one refresh for many concurrent callers in Node, and for two browser tabs at once (Chromium),
// with the server's reuse detection strict (REFRESH_REUSE_INTERVAL_SECONDS=0), so a second
// presentation of one refresh token would end the session.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { build } from 'esbuild';
import { sql } from 'kysely';
import { createKeyholdClient, KeyholdError, memoryStorage } from '../clients/js/src/index.js';
import { servedOpenApiDocument } from '../scripts/openapi-snapshot.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { PASSWORD, registerUser } from './helpers/fixtures.js';
import { launchPageBrowser, skipWithoutChromium } from './helpers/page-browser.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BUNDLE_LIMIT_GZIPPED = 15 * 1024;

async function bundleClient(): Promise<string> {
  const result = await build({ entryPoints: [`${ROOT}clients/js/src/index.ts`], bundle: true, format: 'esm', minify: true, write: false, target: 'es2022', logLevel: 'silent' });
  return result.outputFiles[0]!.text;
}

const rotationsOf = async (t: TestApp, userId: string): Promise<number> => {
  const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM refresh_tokens WHERE user_id = ${userId}`.execute(t.app.ctx.db);
  return rows[0]!.n - 1;
};

describe('@keyhold/client', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp('pglite', { env: { REFRESH_REUSE_INTERVAL_SECONDS: '0' } });
  });
  after(() => t?.close());

  it('is typed from the OpenAPI document the server serves (npm run clients:types after a schema change)', async () => {
    const committed = await readFile(`${ROOT}clients/js/openapi.json`, 'utf8');
    assert.ok(committed === (await servedOpenApiDocument()), 'clients/js/openapi.json differs from /openapi.json: run `npm run clients:types`');
  });

  it(`bundles for the browser under ${BUNDLE_LIMIT_GZIPPED / 1024} kB gzipped`, async () => {
    const gzipped = gzipSync(await bundleClient()).length;
    process.stdout.write(`# @keyhold/client bundle: ${(gzipped / 1024).toFixed(1)} kB gzipped\n`);
    assert.ok(gzipped < BUNDLE_LIMIT_GZIPPED, `${gzipped} bytes`);
  });

  it('signs in, reads the user, and sends one refresh for many concurrent callers', async () => {
    const user = await registerUser(t.api);
    const client = createKeyholdClient({ baseUrl: t.baseUrl, storage: memoryStorage() });
    const result = await client.signIn({ email: user.email, password: PASSWORD });
    assert.equal(result.status, 'signed_in');
    assert.equal((await client.me()).email, user.email);
    await Promise.all(Array.from({ length: 8 }, () => client.refresh()));
    assert.equal(await rotationsOf(t, user.user.id), 1, 'eight callers, one rotation');
    // The server ages the access token past its expiry: the next request refreshes once and retries.
    t.clock.advanceSeconds(16 * 60);
    const replies = await Promise.all(Array.from({ length: 5 }, () => client.me()));
    assert.ok(replies.every((me) => me.id === user.user.id));
    assert.equal(await rotationsOf(t, user.user.id), 2);
    await client.signOut();
    assert.equal(await client.getAccessToken(), null);
  });

  it('carries the stable code of a refused reply', async () => {
    const client = createKeyholdClient({ baseUrl: t.baseUrl, storage: memoryStorage() });
    const refused = await client.signIn({ email: 'nobody@example.com', password: 'not the password' }).catch((err: unknown) => err);
    assert.ok(refused instanceof KeyholdError);
    assert.equal(refused.status, 401);
    assert.equal(refused.detail, 'Incorrect email or password');
    assert.ok(refused.code.length > 0);
  });
});

describe('@keyhold/client in two browser tabs', { skip: skipWithoutChromium }, () => {
  let t: TestApp;
  let site: Server;
  let origin: string;
  before(async () => {
    const bundle = await bundleClient();
    site = createServer((request, response) => {
      if (request.url === '/client.js') return void response.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
      response.writeHead(200, { 'content-type': 'text/html' }).end(
        `<!doctype html><title>app</title><script type="module">import { createKeyholdClient } from '/client.js'; window.keyhold = createKeyholdClient({ baseUrl: window.keyholdBase }); window.ready = true;</script>`,
      );
    });
    await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
    t = await startTestApp('pglite', { env: { REFRESH_REUSE_INTERVAL_SECONDS: '0', CORS_ORIGINS: origin } });
  });
  after(async () => {
    await t?.close();
    site?.close();
  });

  it('two tabs refreshing at the same moment: one rotation, both go on, no reuse detected', async () => {
    const browser = await launchPageBrowser();
    try {
      const [tab1, tab2, tab3] = [await browser.context.newPage(), await browser.context.newPage(), await browser.context.newPage()];
      for (const tab of [tab1, tab2, tab3]) {
        await tab.addInitScript(`window.keyholdBase = ${JSON.stringify(t.baseUrl)}`);
        await tab.goto(origin);
        await tab.waitForFunction('window.ready === true');
      }
      const user = await registerUser(t.api);
      await tab1.evaluate(`keyhold.signIn({ email: ${JSON.stringify(user.email)}, password: ${JSON.stringify(PASSWORD)} })`);
      // A third tab holds the refresh lock, so both tabs have asked before either is served.
      await tab3.evaluate(`new Promise((held) => navigator.locks.request('keyhold:session:refresh', () => { held(); return new Promise((release) => { window.release = release; }); }))`);
      const refreshes = [tab1.evaluate('keyhold.refresh()'), tab2.evaluate('keyhold.refresh()')];
      await tab3.waitForFunction(`navigator.locks.query().then((q) => q.pending.length === 2)`);
      await tab3.evaluate('window.release()');
      await Promise.all(refreshes);
      assert.equal(await rotationsOf(t, user.user.id), 1, 'one rotation for two tabs');
      for (const tab of [tab1, tab2]) assert.equal(await tab.evaluate('keyhold.me().then((me) => me.email)'), user.email, 'the session lives on in both tabs');
    } finally {
      await browser.close();
    }
  });
});
