import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestApp } from './helpers/app.js';
import { programArgs } from './helpers/entry.js';
import { PASSWORD, uniqueEmail } from './helpers/fixtures.js';

// HTTP behaviour that does not depend on the database flavour: run on the embedded one.
describe('HTTP surface', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp('pglite', { env: { CORS_ORIGINS: 'https://app.example.com' } });
  });
  after(() => t.close());

  it('answers 404 for unknown routes and 405 for a wrong method, in the FastAPI shape', async () => {
    const missing = await t.api.get('/nope');
    assert.deepEqual([missing.status, missing.body], [404, { detail: 'Not Found', code: 'not_found' }]);
    const wrongMethod = await t.api.get('/auth/login/json');
    assert.deepEqual([wrongMethod.status, wrongMethod.body], [405, { detail: 'Method Not Allowed', code: 'method_not_allowed' }]);
    assert.equal(wrongMethod.headers.get('allow'), 'POST');
  });

  it('turns malformed, empty, oversized and mistyped bodies into 4xx, never 500', async () => {
    const badJson = await t.api.request('POST', '/auth/login/json', { raw: '{"email": ' });
    assert.equal(badJson.status, 422);
    assert.equal(badJson.body.detail[0].type, 'json_invalid');
    const empty = await t.api.request('POST', '/auth/login/json', { raw: '' });
    assert.equal(empty.status, 422);
    const huge = await t.api.request('POST', '/auth/register', { raw: JSON.stringify({ email: 'a@b.io', password: PASSWORD, name: 'x'.repeat(70_000) }) });
    assert.deepEqual([huge.status, huge.body], [413, { detail: 'Request body too large', code: 'body_too_large' }]);
    const text = await t.api.request('POST', '/auth/login/json', { raw: 'hello', headers: { 'content-type': 'text/plain' } });
    assert.deepEqual([text.status, text.body], [415, { detail: 'Unsupported media type', code: 'unsupported_media_type' }]);
    const xml = await t.api.request('POST', '/auth/login/json', { raw: '<a/>', headers: { 'content-type': 'application/xml' } });
    assert.equal(xml.status, 415);
    const nested = await t.api.post('/auth/login/json', { email: { $ne: null }, password: ['x'] });
    assert.equal(nested.status, 422);
    const proto = await t.api.request('POST', '/auth/login/json', { raw: '{"__proto__": {"admin": true}, "email": "a@b.io", "password": "x"}' });
    assert.ok(proto.status >= 400 && proto.status < 500, String(proto.status));
    const nulInKey = await t.api.request('POST', '/auth/login/json', { raw: '{"email\\u0000": "a@b.io", "password": "x"}' });
    assert.equal(nulInKey.status, 422);
    const nulInForm = await t.api.request('POST', '/auth/login', { form: { username: 'a\u0000@b.io', password: 'x' } });
    assert.equal(nulInForm.status, 422);
    const loneSurrogate = await t.api.request('POST', '/auth/login/json', { raw: '{"email": "a\\ud800@x.io", "password": "whatever1"}' });
    assert.equal(loneSurrogate.status, 422, 'jsonb cannot store it: refused, not a 500');
    const register = await t.api.request('POST', '/auth/register', { raw: '{"email": "b@x.io", "password": "a-long-passphrase", "name": "\\udc00"}' });
    assert.equal(register.status, 422);
    const lowerCasedTooLong = await t.api.post('/auth/register', { email: `${'İ'.repeat(125)}@ex.io`, password: 'a-long-passphrase', name: 'X' });
    assert.equal(lowerCasedTooLong.status, 422, 'the length limit applies to the stored, lower-cased form');
  });

  it('sets security headers and no-store on every API response', async () => {
    const res = await t.api.post('/auth/login/json', { email: uniqueEmail(), password: PASSWORD });
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    assert.match(res.headers.get('strict-transport-security') ?? '', /max-age=\d+/);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.equal(res.headers.get('content-security-policy'), "default-src 'none'; frame-ancestors 'none'");
    assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
    const unauthenticated = await t.api.get('/auth/me');
    assert.equal(unauthenticated.status, 401);
    assert.equal(unauthenticated.headers.get('x-content-type-options'), 'nosniff', 'errors carry them too');
    assert.equal(unauthenticated.headers.get('cache-control'), 'no-store');
  });

  it('sets them on what the router refuses too: unknown paths and methods, bad escapes, over-long parameters', async () => {
    const refusals: Array<[string, string, number]> = [
      ['GET', '/api/v1/nowhere', 404],
      ['DELETE', '/healthz', 405],
      ['GET', '/api/v1/auth/%E0%A4%A', 400],
      ['DELETE', `/api/v1/accounts/me/invites/${'a'.repeat(101)}`, 414],
    ];
    for (const [method, path, status] of refusals) {
      const res = await fetch(`${t.baseUrl}${path}`, { method });
      await res.arrayBuffer();
      assert.equal(res.status, status, `${method} ${path}`);
      assert.deepEqual(
        ['cache-control', 'content-security-policy', 'strict-transport-security', 'x-content-type-options', 'x-frame-options', 'referrer-policy'].map(
          (name) => res.headers.get(name),
        ),
        ['no-store', "default-src 'none'; frame-ancestors 'none'", 'max-age=31536000; includeSubDomains', 'nosniff', 'DENY', 'no-referrer'],
        `${method} ${path} (${status})`,
      );
    }
  });

  it('gives the docs page the browser-page headers and lets it be cached', async () => {
    const docs = await fetch(`${t.baseUrl}/docs/`, { redirect: 'follow' });
    assert.equal(docs.status, 200);
    assert.match(docs.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    assert.equal(docs.headers.get('cross-origin-opener-policy'), 'same-origin');
    assert.equal(docs.headers.get('x-frame-options'), 'DENY');
    assert.notEqual(docs.headers.get('cache-control'), 'no-store');
  });

  it('allows cross-origin calls only from CORS_ORIGINS', async () => {
    const preflight = (origin: string) =>
      fetch(`${t.api.base}/auth/login/json`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
      });
    const allowed = await preflight('https://app.example.com');
    assert.equal(allowed.headers.get('access-control-allow-origin'), 'https://app.example.com');
    const denied = await preflight('https://evil.example.com');
    assert.equal(denied.headers.get('access-control-allow-origin'), null);
  });

  it('serves health, readiness, the OpenAPI document and the docs at the root', async () => {
    const health = await fetch(`${t.baseUrl}/healthz`);
    assert.equal(health.status, 200);
    const ready = await fetch(`${t.baseUrl}/readyz`);
    assert.equal(ready.status, 200);
    assert.equal(((await ready.json()) as { database: string }).database, 'ok');
    const openapi = await fetch(`${t.baseUrl}/openapi.json`);
    assert.equal(openapi.status, 200);
    const doc = (await openapi.json()) as { paths: Record<string, Record<string, unknown>> };
    assert.ok(doc.paths['/api/v1/auth/register'], 'routes appear under the API prefix');
    assert.ok(doc.paths['/api/v1/auth/login/json']?.post);
    const docs = await fetch(`${t.baseUrl}/docs`, { redirect: 'follow' });
    assert.equal(docs.status, 200);
    assert.match(await docs.text(), /swagger/i);
  });
});

describe('HTTP surface without CORS_ORIGINS', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp('pglite');
  });
  after(() => t.close());

  it('allows no cross-origin call at all', async () => {
    const origin = 'https://app.example.com';
    const preflight = await fetch(`${t.api.base}/auth/login/json`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    assert.ok(preflight.status >= 400, `preflight refused (${preflight.status})`);
    assert.equal(preflight.headers.get('access-control-allow-origin'), null);
    const call = await t.api.request('POST', '/auth/login/json', { json: { email: uniqueEmail(), password: PASSWORD }, headers: { origin } });
    assert.equal(call.status, 401);
    assert.equal(call.headers.get('access-control-allow-origin'), null);
  });
});

describe('configuration', () => {
  it('refuses a bad value with one line naming the variable', async () => {
    const { loadConfig } = await import('../src/config.js');
    assert.throws(() => loadConfig({ PORT: 'eighty' }), /PORT/);
    assert.throws(() => loadConfig({ DATABASE_URL: 'mysql://x' }), /DATABASE_URL/);
    assert.throws(() => loadConfig({ RATE_LIMIT_ENABLED: 'maybe' }), /RATE_LIMIT_ENABLED/);
    assert.throws(() => loadConfig({ ACCESS_TOKEN_EXPIRE_MINUTES: '-5' }), /ACCESS_TOKEN_EXPIRE_MINUTES/);
    assert.throws(() => loadConfig({ BOOTSTRAP_ADMIN_EMAIL: 'a@b.io' }), /BOOTSTRAP_ADMIN_PASSWORD/);
    assert.throws(() => loadConfig({ OIDC_PROVIDERS: 'okta' }), /OIDC_OKTA_ISSUER/);
    assert.throws(() => loadConfig({ CORS_ORIGINS: 'not a url' }), /CORS_ORIGINS/);
    const config = loadConfig({});
    assert.equal(config.port, 8000);
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.apiPrefix, '/api/v1');
    assert.equal(config.trialDays, 14);
    assert.equal(config.refreshReuseIntervalSeconds, 10);
    assert.equal(Object.isFrozen(config), true);
  });

  it('stops the server at start with that one line', { timeout: 120_000 }, async () => {
    const { spawnSync } = await import('node:child_process');
    const result = spawnSync(process.execPath, programArgs('server'), {
      env: { ...process.env, PORT: 'eighty', DATA_DIR: 'memory://' },
      encoding: 'utf8',
      timeout: 90_000,
    });
    assert.equal(result.status, 1);
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    assert.match(result.stderr, /^Invalid configuration: PORT /);
  });
});
