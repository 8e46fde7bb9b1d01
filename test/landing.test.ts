// What a newcomer meets first: a landing page at /, the real version, a summary on every
// OpenAPI route, and /docs with the OAuth2 password flow and no Content-Security-Policy errors.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestApp } from './helpers/app.js';
import { launchPageBrowser, skipWithoutChromium } from './helpers/page-browser.js';
import { repoPath } from './helpers/repo-root.js';

type Operation = { summary?: string; security?: Array<Record<string, string[]>> };
type OpenApi = { info: { version: string }; paths: Record<string, Record<string, Operation>>; components: { securitySchemes: Record<string, { type: string; flows?: { password?: { tokenUrl: string } } }> } };

describe('landing page, version and API reference', () => {
  let t: TestApp;
  let version: string;
  before(async () => {
    t = await startTestApp('pglite', { env: { HOSTED_UI_ENABLED: 'true' } });
    version = (JSON.parse(await readFile(repoPath('package.json'), 'utf8')) as { version: string }).version;
  });
  after(() => t.close());

  it('GET / answers JSON with the name, the version and links; a browser gets a page of links', async () => {
    const json = await fetch(`${t.baseUrl}/`);
    assert.equal(json.status, 200);
    const body = (await json.json()) as { name: string; version: string; links: Record<string, string> };
    assert.equal(body.name, 'Keyhold');
    assert.equal(body.version, version);
    assert.equal(body.links.docs, '/docs');
    assert.equal(body.links.health, '/healthz');
    assert.equal(body.links.pages, '/ui/sign-in');
    const html = await fetch(`${t.baseUrl}/`, { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
    assert.match(html.headers.get('content-type') ?? '', /^text\/html/);
    const page = await html.text();
    for (const href of ['/docs', '/healthz', '/ui/sign-in']) assert.ok(page.includes(`href="${href}"`), href);
  });

  it('the version is package.json\'s (0.3.0) in /healthz and the OpenAPI document', async () => {
    assert.equal(version, '0.3.0');
    assert.deepEqual(await (await fetch(`${t.baseUrl}/healthz`)).json(), { status: 'ok', version });
    const doc = (await (await fetch(`${t.baseUrl}/openapi.json`)).json()) as OpenApi;
    assert.equal(doc.info.version, version);
  });

  it('every route in the OpenAPI document has a summary', async () => {
    const doc = (await (await fetch(`${t.baseUrl}/openapi.json`)).json()) as OpenApi;
    const missing: string[] = [];
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(operations)) if (!operation.summary?.trim()) missing.push(`${method.toUpperCase()} ${path}`);
    }
    assert.deepEqual(missing, []);
  });

  it('offers the OAuth2 password flow against the login form, on every route that takes a bearer token', async () => {
    const doc = (await (await fetch(`${t.baseUrl}/openapi.json`)).json()) as OpenApi;
    assert.equal(doc.components.securitySchemes.OAuth2PasswordBearer?.type, 'oauth2');
    assert.equal(doc.components.securitySchemes.OAuth2PasswordBearer?.flows?.password?.tokenUrl, '/api/v1/auth/login');
    const me = doc.paths['/api/v1/auth/me']?.get;
    assert.ok(me?.security?.some((requirement) => 'OAuth2PasswordBearer' in requirement));
    for (const operations of Object.values(doc.paths)) {
      for (const operation of Object.values(operations)) {
        if (operation.security?.some((requirement) => 'bearer' in requirement)) {
          assert.ok(operation.security.some((requirement) => 'OAuth2PasswordBearer' in requirement));
        }
      }
    }
  });

  it('/docs renders in Chromium without a Content-Security-Policy error, with the password flow under Authorize', { skip: skipWithoutChromium, timeout: 120_000 }, async () => {
    const browser = await launchPageBrowser();
    try {
      const page = await browser.context.newPage();
      await page.goto(`${t.baseUrl}/docs`);
      await page.waitForSelector('.swagger-ui .info .title', { timeout: 60_000 });
      await page.click('.btn.authorize');
      await page.waitForSelector('input#oauth_username', { timeout: 10_000 });
      assert.deepEqual(browser.policyViolations, []);
    } finally {
      await browser.close();
    }
  });
});
