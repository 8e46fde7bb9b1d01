import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { ApiClient, startTestApp, type TestApp } from './helpers/app.js';
import { PASSWORD, registerAndSignIn, uniqueEmail } from './helpers/fixtures.js';

const stores = ['memory', ...(process.env.TEST_REDIS_URL ? ['redis'] : [])] as const;

for (const store of stores) {
  describe(`per-IP rate limits (${store} store)`, () => {
    let t: TestApp;
    before(async () => {
      const env: Record<string, string> = { RATE_LIMIT_ENABLED: 'true' };
      if (store === 'redis') {
        env.REDIS_URL = process.env.TEST_REDIS_URL!;
        const redis = new Redis(env.REDIS_URL);
        const keys = await redis.keys('keyhold-rl:*');
        if (keys.length > 0) await redis.del(...keys);
        redis.disconnect();
      }
      t = await startTestApp('pglite', { env });
    });
    after(() => t.close());

    it('allows 3 registrations a minute, then answers 429 with Retry-After', async () => {
      const attempt = () => t.api.post('/auth/register', { email: uniqueEmail(), password: PASSWORD, name: 'R' });
      for (let i = 0; i < 3; i++) assert.equal((await attempt()).status, 201);
      const limited = await attempt();
      assert.deepEqual([limited.status, limited.body], [429, { detail: 'Rate limit exceeded: 3 per 1 minute', code: 'rate_limited' }]);
      assert.ok(Number(limited.headers.get('retry-after')) > 0);
    });

    it('limits login to 5 a minute per IP, and ignores X-Forwarded-For without TRUST_PROXY', async () => {
      const attempt = (ip: string) =>
        t.api.request('POST', '/auth/login/json', { json: { email: uniqueEmail(), password: PASSWORD }, headers: { 'x-forwarded-for': ip } });
      for (let i = 0; i < 5; i++) assert.equal((await attempt(`10.0.0.${i}`)).status, 401);
      const limited = await attempt('10.0.0.99');
      assert.deepEqual([limited.status, limited.body], [429, { detail: 'Rate limit exceeded: 5 per 1 minute', code: 'rate_limited' }]);
      if (store === 'redis') assert.match(((await (await fetch(`${t.baseUrl}/readyz`)).json()) as { rate_limit_store: string }).rate_limit_store, /^redis/);
    });

    // Issue 24: only login's shared budget was tested this way; a per-route limit keyed by the
    // header would give a client a fresh budget per forged address.
    it('keys per-route limits (refresh, forgot-password) by the connection, not X-Forwarded-For, without TRUST_PROXY', async () => {
      const refresh = (ip: string) =>
        t.api.request('POST', '/auth/refresh', { json: { refresh_token: 'not-a-token' }, headers: { 'x-forwarded-for': ip } });
      for (let i = 0; i < 10; i++) assert.equal((await refresh(`203.0.113.${i}`)).status, 401);
      const refreshLimited = await refresh('203.0.113.99');
      assert.deepEqual([refreshLimited.status, refreshLimited.body], [429, { detail: 'Rate limit exceeded: 10 per 1 minute', code: 'rate_limited' }]);

      const forgot = (ip: string) =>
        t.api.request('POST', '/auth/password/forgot', { json: { email: uniqueEmail() }, headers: { 'x-forwarded-for': ip } });
      for (let i = 0; i < 3; i++) assert.equal((await forgot(`203.0.113.${i}`)).status, 200);
      assert.equal((await forgot('203.0.113.99')).status, 429);
    });

    it('gives both login routes one budget per IP, not one each', async () => {
      const ip = '198.51.100.1';
      const t2 = await startProxiedApp();
      try {
        const headers = { 'x-forwarded-for': ip };
        for (let i = 0; i < 3; i++) {
          const form = await t2.api.request('POST', '/auth/login', { form: { username: uniqueEmail(), password: PASSWORD }, headers });
          assert.equal(form.status, 401);
        }
        for (let i = 0; i < 2; i++) {
          assert.equal((await t2.api.request('POST', '/auth/login/json', { json: { email: uniqueEmail(), password: PASSWORD }, headers })).status, 401);
        }
        const json = await t2.api.request('POST', '/auth/login/json', { json: { email: uniqueEmail(), password: PASSWORD }, headers });
        assert.deepEqual([json.status, json.body], [429, { detail: 'Rate limit exceeded: 5 per 1 minute', code: 'rate_limited' }]);
        const form = await t2.api.request('POST', '/auth/login', { form: { username: uniqueEmail(), password: PASSWORD }, headers });
        assert.equal(form.status, 429);
        assert.ok(Number(form.headers.get('retry-after')) > 0);
      } finally {
        await t2.close();
      }
    });

    it('limits checks of the current password per IP (email and password change share it), not plain profile edits', async () => {
      const t2 = await startProxiedApp();
      try {
        // Sign up and in from elsewhere, so only the checks below spend this IP's budgets.
        const u = await registerAndSignIn(fromAddress(t2, '198.51.100.2'));
        const api = fromAddress(t2, '198.51.100.3');
        for (let i = 0; i < 8; i++) assert.equal((await api.patch('/auth/me', { name: `Name ${i}` }, u.accessToken)).status, 200);
        for (let i = 0; i < 3; i++) {
          assert.equal((await api.patch('/auth/me', { email: uniqueEmail(), current_password: 'wrong one' }, u.accessToken)).status, 401);
        }
        for (let i = 0; i < 2; i++) {
          const change = await api.post('/auth/password/change', { current_password: 'wrong one', new_password: 'another passphrase' }, u.accessToken);
          assert.equal(change.status, 401);
        }
        const limited = await api.patch('/auth/me', { email: uniqueEmail(), current_password: PASSWORD }, u.accessToken);
        assert.deepEqual([limited.status, limited.body], [429, { detail: 'Rate limit exceeded: 5 per 1 minute', code: 'rate_limited' }]);
        const change = await api.post('/auth/password/change', { current_password: PASSWORD, new_password: 'another passphrase' }, u.accessToken);
        assert.equal(change.status, 429);
        assert.equal((await api.patch('/auth/me', { name: 'Still editable' }, u.accessToken)).status, 200);
      } finally {
        await t2.close();
      }
    });

    /** A client whose every request comes from `ip` (through the trusted proxy). */
    function fromAddress(app: TestApp, ip: string): ApiClient {
      const client = new ApiClient(app.api.base);
      const send = client.request.bind(client);
      client.request = (method, path, options = {}) => send(method, path, { ...options, headers: { 'x-forwarded-for': ip, ...options.headers } });
      return client;
    }

    /** An app that believes X-Forwarded-For, so each test can act from addresses of its own. */
    function startProxiedApp(): Promise<TestApp> {
      const env: Record<string, string> = { RATE_LIMIT_ENABLED: 'true', TRUST_PROXY: 'true' };
      if (store === 'redis') env.REDIS_URL = process.env.TEST_REDIS_URL!;
      return startTestApp('pglite', { env });
    }
  });
}

describe('rate limits behind a trusted proxy', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp('pglite', { env: { RATE_LIMIT_ENABLED: 'true', TRUST_PROXY: 'true' } });
  });
  after(() => t.close());

  it('counts per client address from X-Forwarded-For', async () => {
    const attempt = (ip: string) =>
      t.api.request('POST', '/auth/login/json', { json: { email: uniqueEmail(), password: PASSWORD }, headers: { 'x-forwarded-for': ip } });
    for (let i = 0; i < 5; i++) assert.equal((await attempt('203.0.113.7')).status, 401);
    assert.equal((await attempt('203.0.113.7')).status, 429);
    assert.equal((await attempt('203.0.113.8')).status, 401, 'another client has its own budget');
  });
});

describe('rate limits switched off', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp('pglite', { env: { RATE_LIMIT_ENABLED: 'false' } });
  });
  after(() => t.close());

  it('never answers 429', async () => {
    for (let i = 0; i < 8; i++) assert.equal((await t.api.post('/auth/login/json', { email: uniqueEmail(), password: PASSWORD })).status, 401);
  });
});
