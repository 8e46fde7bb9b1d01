import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { startTestApp } from './helpers/app.js';
import { createTestDatabase, DATABASE_KINDS } from './helpers/database.js';
import { PASSWORD, registerAndSignIn } from './helpers/fixtures.js';
import { startTcpProxy } from './helpers/tcp-proxy.js';

for (const kind of DATABASE_KINDS) {
  describe(`restarts (${kind})`, () => {
    // The default (ES256) keeps its keys, the refresh-rotation secret and the refresh tokens' MAC key; HS256 mode without
    // JWT_SECRET keeps 0.1's generated secret, which also serves the rotation.
    for (const [mode, env, kept] of [
      ['ES256', {}, ['refresh_rotation_secret', 'refresh_token_mac_key']],
      ['HS256', { JWT_ALGORITHM: 'HS256' }, ['jwt_signing_secret']],
    ] as const) it(`keep users, sessions and the generated signing secret (${mode})`, async () => {
      const database = await createTestDatabase(kind, { persistent: true });
      try {
        const first = await startTestApp(kind, { database, env });
        const user = await registerAndSignIn(first.api);
        await first.close();

        const second = await startTestApp(kind, { database, env });
        try {
          const me = await second.api.get('/auth/me', user.accessToken);
          assert.equal(me.status, 200, 'an access token from before the restart still verifies');
          const refreshed = await second.api.post('/auth/refresh', { refresh_token: user.refreshToken });
          assert.equal(refreshed.status, 200);
          assert.equal((await second.api.post('/auth/login/json', { email: user.email, password: PASSWORD })).status, 200);
          const secrets = await second.app.ctx.db.selectFrom('app_secrets').select('name').execute();
          assert.deepEqual(secrets.map((s) => s.name).sort(), [...kept].sort());
          const keys = await second.app.ctx.db.selectFrom('signing_keys').select('state').orderBy('state').execute();
          assert.deepEqual(keys.map((k) => k.state), mode === 'ES256' ? ['current', 'next'] : [], 'the same keys, none made again');
        } finally {
          await second.close();
        }
      } finally {
        await database.drop();
      }
    });

    it('creates the bootstrap admin once', async () => {
      const database = await createTestDatabase(kind, { persistent: true });
      const env = { BOOTSTRAP_ADMIN_EMAIL: 'Root@Example.com', BOOTSTRAP_ADMIN_PASSWORD: 'bootstrap-password' };
      try {
        for (let run = 0; run < 2; run++) {
          const t = await startTestApp(kind, { database, env });
          try {
            const login = await t.api.post('/auth/login/json', { email: 'root@example.com', password: 'bootstrap-password' });
            assert.equal(login.status, 200);
            const me = await t.api.get('/auth/me', login.body.access_token);
            assert.equal(me.body.role, 'admin');
            const admins = await t.app.ctx.db.selectFrom('users').select('id').where('role', '=', 'admin').execute();
            assert.equal(admins.length, 1);
          } finally {
            await t.close();
          }
        }
      } finally {
        await database.drop();
      }
    });
  });
}

describe('JWT_SECRET from the environment', () => {
  it('is used instead of a generated secret', async () => {
    const t = await startTestApp('pglite', { env: { JWT_SECRET: 'a-test-secret-that-is-long-enough-to-use' } });
    try {
      const user = await registerAndSignIn(t.api);
      assert.equal((await t.api.get('/auth/me', user.accessToken)).status, 200);
      const secrets = await t.app.ctx.db.selectFrom('app_secrets').select('name').execute();
      assert.equal(secrets.length, 0);
    } finally {
      await t.close();
    }
  });
});

if (DATABASE_KINDS.includes('postgres')) {
  describe('database outage (postgres)', () => {
    const cleanups: Array<() => Promise<void>> = [];
    after(async () => {
      for (const cleanup of cleanups.reverse()) await cleanup();
    });

    it('answers 503 while the database is unreachable and recovers by itself', async () => {
      const database = await createTestDatabase('postgres');
      cleanups.push(() => database.drop());
      const target = new URL(database.url!);
      const proxy = await startTcpProxy(target.hostname, Number(target.port || 5432));
      cleanups.push(() => proxy.close());
      const viaProxy = new URL(database.url!);
      viaProxy.hostname = '127.0.0.1';
      viaProxy.port = String(proxy.port);
      const t = await startTestApp('postgres', { database: { ...database, env: { DATABASE_URL: viaProxy.toString() } } });
      cleanups.push(() => t.close());

      const user = await registerAndSignIn(t.api);
      await proxy.cut();
      const started = Date.now();
      const during = await t.api.get('/auth/me', user.accessToken);
      assert.deepEqual([during.status, during.body], [503, { detail: 'Service unavailable', code: 'service_unavailable' }]);
      const login = await t.api.post('/auth/login/json', { email: user.email, password: PASSWORD });
      assert.equal(login.status, 503);
      assert.ok(Date.now() - started < 10_000, 'fails fast');
      assert.equal((await fetch(`${t.baseUrl}/readyz`)).status, 503);

      await proxy.restore();
      let status = 0;
      for (let i = 0; i < 50 && status !== 200; i++) {
        status = (await t.api.get('/auth/me', user.accessToken)).status;
        if (status !== 200) await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(status, 200, 'recovers without a restart');
    });
  });
}

describe('the embedded data directory', () => {
  it('cannot be opened by two processes at once, and a stale lock is taken over', async () => {
    const { openDatabase } = await import('../src/db/database.js');
    const { writeFile } = await import('node:fs/promises');
    const database = await createTestDatabase('pglite', { persistent: true });
    try {
      const first = await openDatabase({ dataDir: database.env.DATA_DIR! });
      await assert.rejects(openDatabase({ dataDir: database.env.DATA_DIR! }), /in use by another Keyhold process/);
      await first.close();
      await writeFile(`${database.env.DATA_DIR}/keyhold.lock`, '999999999');
      const second = await openDatabase({ dataDir: database.env.DATA_DIR! });
      await second.close();
    } finally {
      await database.drop();
    }
  });
});
