// Reliability under faults: the database connections killed under load, Redis gone.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { startTestApp, type TestApp } from './helpers/app.js';
import { createTestDatabase, DATABASE_KINDS } from './helpers/database.js';
import { PASSWORD, registerAndSignIn, uniqueEmail } from './helpers/fixtures.js';
import { startTcpProxy, type TcpProxy } from './helpers/tcp-proxy.js';

if (DATABASE_KINDS.includes('postgres')) {
  describe('database connections killed under load (postgres)', () => {
    let t: TestApp;
    let admin: pg.Client;
    let dbName: string;
    before(async () => {
      const database = await createTestDatabase('postgres');
      dbName = new URL(database.url!).pathname.slice(1);
      t = await startTestApp('postgres', { database });
      admin = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
      await admin.connect();
    });
    after(async () => {
      await admin.end();
      await t.close();
      await t.database.drop();
    });

    it('fails fast with 503, never 500, recovers by itself and leaves nothing half-written', async () => {
      const seeded = await Promise.all(Array.from({ length: 4 }, () => registerAndSignIn(t.api)));
      const statuses = new Map<number, number>();
      const count = (status: number) => statuses.set(status, (statuses.get(status) ?? 0) + 1);
      let stop = false;
      const worker = async (i: number) => {
        let refreshToken = seeded[i]!.refreshToken;
        for (let n = 0; !stop && n < 200; n++) {
          const started = Date.now();
          const kind = n % 3;
          const res =
            kind === 0 ? await t.api.post('/auth/register', { email: uniqueEmail('fault'), password: PASSWORD, name: 'Fault' })
            : kind === 1 ? await t.api.post('/auth/refresh', { refresh_token: refreshToken })
            : await t.api.get('/auth/me', seeded[i]!.accessToken);
          if (kind === 1 && res.status === 200) refreshToken = res.body.refresh_token;
          count(res.status);
          assert.ok(res.status < 500 || res.status === 503, `${res.status} ${JSON.stringify(res.body)}`);
          assert.ok(Date.now() - started < 8000, 'no request hangs');
        }
      };
      const load = Promise.all(seeded.map((_, i) => worker(i)));
      for (let kill = 0; kill < 5; kill++) {
        await new Promise((r) => setTimeout(r, 150));
        await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [dbName]);
      }
      stop = true;
      await load;
      assert.ok((statuses.get(200) ?? 0) + (statuses.get(201) ?? 0) > 0, JSON.stringify([...statuses]));

      let recovered = 0;
      for (let i = 0; i < 50 && recovered !== 200; i++) {
        recovered = (await t.api.get('/auth/me', seeded[0]!.accessToken)).status;
        if (recovered !== 200) await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(recovered, 200);

      const db = t.app.ctx.db;
      const orphans = await db.selectFrom('accounts').leftJoin('users', 'users.id', 'accounts.owner_id').select('accounts.id').where('users.id', 'is', null).execute();
      assert.deepEqual(orphans, [], 'every account has its owner');
      const unsubscribed = await db.selectFrom('accounts').leftJoin('subscriptions', 'subscriptions.account_id', 'accounts.id').select('accounts.id').where('subscriptions.id', 'is', null).execute();
      assert.deepEqual(unsubscribed, [], 'every account has its subscription');
      const unaudited = await db.selectFrom('users').select('users.id').where((eb) =>
        eb.not(eb.exists(eb.selectFrom('audit_logs').select('audit_logs.id').whereRef('audit_logs.user_id', '=', 'users.id').where('action', '=', 'auth.register')))).execute();
      assert.deepEqual(unaudited, [], 'every registration has its audit row');
      const tokenless = await db.selectFrom('sessions').leftJoin('refresh_tokens', 'refresh_tokens.session_id', 'sessions.id').select('sessions.id').where('refresh_tokens.id', 'is', null).execute();
      assert.deepEqual(tokenless, [], 'no session without its refresh token');
      for (const user of seeded) {
        const live = await db.selectFrom('refresh_tokens').select('session_id').where('user_id', '=', user.id).where('revoked_at', 'is', null).execute();
        assert.ok(live.length <= 1, 'rotation never leaves two live tokens in a session');
      }
    });
  });
}

if (process.env.TEST_REDIS_URL) {
  describe('Redis outage with REDIS_URL set', () => {
    let t: TestApp;
    let proxy: TcpProxy;
    before(async () => {
      const redis = new URL(process.env.TEST_REDIS_URL!);
      proxy = await startTcpProxy(redis.hostname, Number(redis.port || 6379));
      t = await startTestApp('pglite', { env: { RATE_LIMIT_ENABLED: 'true', REDIS_URL: `redis://127.0.0.1:${proxy.port}` } });
    });
    after(async () => {
      await t.close();
      await proxy.close();
    });

    it('falls back to in-process limits, reports it, and keeps login and lockout working', async () => {
      const ready = async () => ((await (await fetch(`${t.baseUrl}/readyz`)).json()) as { rate_limit_store: string }).rate_limit_store;
      for (let i = 0; i < 20 && (await ready()) !== 'redis'; i++) await new Promise((r) => setTimeout(r, 100));
      assert.equal(await ready(), 'redis');
      const user = await registerAndSignIn(t.api);

      await proxy.cut();
      for (let i = 0; i < 20 && (await ready()) === 'redis'; i++) await new Promise((r) => setTimeout(r, 100));
      assert.match(await ready(), /degraded/);

      const login = await t.api.post('/auth/login/json', { email: user.email, password: PASSWORD });
      assert.equal(login.status, 200, 'login works without Redis');
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) statuses.push((await t.api.post('/auth/login/json', { email: user.email, password: 'wrong password' })).status);
      assert.deepEqual(statuses.slice(0, 4), [401, 401, 401, 401]);
      assert.equal(statuses.at(-1), 429, 'limits still hold, per instance');
      const locked = await t.app.ctx.db.selectFrom('users').select('failed_login_count').where('id', '=', user.id).executeTakeFirstOrThrow();
      assert.equal(locked.failed_login_count, 4, 'the per-account counter lives in the database and still counts');
      await proxy.restore();
    });
  });
}
