import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { startTestApp, type TestApp } from './helpers/app.js';
import { PASSWORD, uniqueEmail } from './helpers/fixtures.js';

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
      assert.deepEqual([limited.status, limited.body], [429, { detail: 'Rate limit exceeded: 3 per 1 minute' }]);
      assert.ok(Number(limited.headers.get('retry-after')) > 0);
    });

    it('limits login to 5 a minute per IP, and ignores X-Forwarded-For without TRUST_PROXY', async () => {
      const attempt = (ip: string) =>
        t.api.request('POST', '/auth/login/json', { json: { email: uniqueEmail(), password: PASSWORD }, headers: { 'x-forwarded-for': ip } });
      for (let i = 0; i < 5; i++) assert.equal((await attempt(`10.0.0.${i}`)).status, 401);
      const limited = await attempt('10.0.0.99');
      assert.deepEqual([limited.status, limited.body], [429, { detail: 'Rate limit exceeded: 5 per 1 minute' }]);
      if (store === 'redis') assert.match(((await (await fetch(`${t.baseUrl}/readyz`)).json()) as { rate_limit_store: string }).rate_limit_store, /^redis/);
    });
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
