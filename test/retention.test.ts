// Retention (src/modules/retention): what each purge removes and, above all, what it keeps.
// The clock is the test's (FakeClock): sessions are driven through weeks of refreshes, then
// purged in small batches, so families span many batches.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { sql } from 'kysely';
import { loadConfig } from '../src/config.js';
import { addDays } from '../src/lib/clock.js';
import { hashSecret } from '../src/lib/random.js';
import { purgeExpiredRows, type RetentionReport } from '../src/modules/retention/retention.service.js';
import { EXPIRY_MARGIN_SECONDS } from '../src/modules/sessions/sessions-retention.js';
import { refreshSession } from '../src/modules/sessions/sessions.service.js';
import { startTestApp, type TestApp, type TestAppOptions } from './helpers/app.js';
import { FakeClock } from './helpers/clock.js';
import { createTestDatabase, DATABASE_KINDS, type DatabaseKind } from './helpers/database.js';
import { registerUser, signIn } from './helpers/fixtures.js';

/**
 * The app, once the retention run it starts with (its hourly periodic task, due at once on a new
 * database) has finished: that run must not race the test's own purges.
 */
async function startApp(kind: DatabaseKind, options: TestAppOptions = {}): Promise<TestApp> {
  const t = await startTestApp(kind, options);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const task = await t.app.ctx.db.selectFrom('periodic_tasks').selectAll().where('name', '=', 'retention').executeTakeFirst();
    if (task?.last_finished_at && task.running_until === null) {
      assert.equal(task.last_error, null);
      return t;
    }
    if (Date.now() > deadline) {
      await t.close();
      throw new Error('the start-up retention run did not finish');
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const tokenHash = (refreshToken: string): string => hashSecret(decodeJwt(refreshToken).jti!);

interface Family {
  sessionId: string;
  userId: string;
  /** Every refresh token the session was given, oldest first; the last is the current one. */
  tokens: Array<{ token: string; hash: string; expiresAt: Date }>;
}

function issued(token: string): Family['tokens'][number] {
  return { token, hash: tokenHash(token), expiresAt: new Date(decodeJwt(token).exp! * 1000) };
}

async function startFamily(t: TestApp, email: string, password: string, userId: string): Promise<Family> {
  const { refreshToken } = await signIn(t.api, email, password);
  return { sessionId: decodeJwt(refreshToken).sid as string, userId, tokens: [issued(refreshToken)] };
}

/** `count` refreshes in a row through the sessions service; with `http`, the first over POST /auth/refresh. */
async function refreshFamily(t: TestApp, family: Family, count: number, http = false): Promise<void> {
  for (let i = 0; i < count; i++) {
    const current = family.tokens.at(-1)!.token;
    let next: string;
    if (http && i === 0) {
      const response = await t.api.post('/auth/refresh', { refresh_token: current });
      assert.equal(response.status, 200, JSON.stringify(response.body));
      next = response.body.refresh_token;
    } else {
      next = (await refreshSession(t.app.ctx, current, { ip: null, userAgent: null })).refresh_token;
    }
    family.tokens.push(issued(next));
  }
}

async function tableHashes(t: TestApp): Promise<Set<string>> {
  return new Set((await t.app.ctx.db.selectFrom('refresh_tokens').select('token_hash').execute()).map((row) => row.token_hash));
}

async function sessionIds(t: TestApp): Promise<Set<string>> {
  return new Set((await t.app.ctx.db.selectFrom('sessions').select('id').execute()).map((row) => row.id));
}

async function rowCount(t: TestApp, table: 'refresh_tokens' | 'sessions' | 'audit_logs'): Promise<number> {
  const row = await t.app.ctx.db.selectFrom(table).select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Purges in batches of `batchSize`, checking each batch stays within its bound. */
async function purge(t: TestApp, batchSize: number): Promise<RetentionReport> {
  const report = await purgeExpiredRows(t.app.ctx, {
    batchSize,
    onBatch: ({ purge: name, removed }) => {
      // At most `batchSize` tokens older than each family's newest, plus the newest tokens
      // (and sessions) of at most `batchSize` families; one table, `batchSize` rows.
      for (const [table, n] of Object.entries(removed)) {
        const bound = table === 'refresh_tokens' ? 2 * batchSize : batchSize;
        assert.ok(n <= bound, `${name}: a batch removed ${n} ${table} (bound ${bound})`);
      }
    },
  });
  assert.equal(report.complete, true);
  return report;
}

/** The app's connections (db/database.ts). */
const POOL_SIZE = 10;

/**
 * `work` for every item, at most `limit` at once. A hundred families refreshing at once queue
 * on the pool's ten connections, and on a loaded machine (CI runs three suites side by side)
 * the last in line waited past the pool's 3 s connect timeout: the test failed on that, not on
 * anything it checks.
 */
async function eachAtMost<T>(items: T[], limit: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        await work(items[index]!, index);
      }
    }),
  );
}

const setEqual = (actual: Set<string>, expected: Set<string>, what: string) => {
  const missing = [...expected].filter((x) => !actual.has(x));
  const extra = [...actual].filter((x) => !expected.has(x));
  assert.deepEqual({ missing: missing.length, extra: extra.length }, { missing: 0, extra: 0 }, what);
};

describe('retention', { concurrency: true }, () => {
  it('AUDIT_RETENTION_DAYS: default 365, 0 keeps forever, anything else refused', () => {
    assert.equal(loadConfig({}).auditRetentionDays, 365);
    assert.equal(loadConfig({ AUDIT_RETENTION_DAYS: '0' }).auditRetentionDays, 0);
    assert.equal(loadConfig({ AUDIT_RETENTION_DAYS: '30' }).auditRetentionDays, 30);
    assert.throws(() => loadConfig({ AUDIT_RETENTION_DAYS: '-1' }), /Invalid configuration: AUDIT_RETENTION_DAYS must be a whole number/);
    assert.throws(() => loadConfig({ AUDIT_RETENTION_DAYS: 'forever' }), /AUDIT_RETENTION_DAYS/);
  });

  for (const kind of DATABASE_KINDS) {
    describe(kind, { concurrency: false }, () => {
      it('10,000 refreshes across 100 sessions: the purge leaves exactly the live families, and reuse detection still holds', async () => {
        const t = await startApp(kind, { env: { METRICS_ENABLED: 'true' } });
        try {
          // 10 users, 10 sessions each.
          const families: Family[] = [];
          for (let u = 0; u < 10; u++) {
            const { user, email, password } = await registerUser(t.api);
            for (let s = 0; s < 10; s++) families.push(await startFamily(t, email, password, user.id));
          }
          const live = families.filter((_, i) => i % 2 === 0);
          const dead = families.filter((_, i) => i % 2 === 1);

          // Day 0: every session refreshes 40 times (4,000). Then every 3 days until day 36,
          // the live half refreshes 10 times (12 × 50 × 10 = 6,000). The other half's newest
          // tokens expired on day 7; the live half's tokens from before day 29 have expired too.
          // Each session's first refresh, and one in ten later, go over HTTP.
          await eachAtMost(families, POOL_SIZE, (family) => refreshFamily(t, family, 40, true));
          for (let step = 0; step < 12; step++) {
            t.clock.advanceDays(3);
            await eachAtMost(live, POOL_SIZE, (family, i) => refreshFamily(t, family, 10, i % 10 === step % 10));
          }
          assert.equal(families.reduce((sum, f) => sum + f.tokens.length - 1, 0), 10_000);
          assert.equal(await rowCount(t, 'refresh_tokens'), 10_000 + 100);
          const now = t.clock.now();
          for (const family of dead) assert.ok(family.tokens.at(-1)!.expiresAt <= now);
          for (const family of live) {
            assert.ok(family.tokens.at(-1)!.expiresAt > now);
            assert.ok(family.tokens.filter((token) => token.expiresAt <= now).length >= 40, 'live families keep expired tokens too');
          }

          const dryRun = await purgeExpiredRows(t.app.ctx, { dryRun: true });
          assert.equal(await rowCount(t, 'refresh_tokens'), 10_100, 'a dry run removes nothing');
          assert.equal(dryRun.removed.refresh_tokens, 50 * 41);
          assert.equal(dryRun.removed.sessions, 50);

          // Batches of 7: every dead family (41 tokens) spans several.
          const report = await purge(t, 7);
          assert.deepEqual(
            Object.fromEntries(Object.entries(report.removed).filter(([table]) => table !== 'jobs')),
            Object.fromEntries(Object.entries(dryRun.removed).filter(([table]) => table !== 'jobs')),
            'the purge removes what the dry run counted',
          );
          assert.ok(report.batches > (50 * 41) / 14, `${report.batches} batches`);

          // Exactly the live families remain: every token of theirs, expired or not, and nothing else.
          setEqual(await tableHashes(t), new Set(live.flatMap((f) => f.tokens.map((token) => token.hash))), 'refresh tokens left');
          setEqual(await sessionIds(t), new Set(live.map((f) => f.sessionId)), 'sessions left');
          assert.equal(await rowCount(t, 'refresh_tokens'), 50 * 161);

          // What the purge removed is what it reported (a cascade would remove more than it counts).
          assert.equal(report.removed.refresh_tokens, 10_100 - 50 * 161);
          const metrics = await (await fetch(`${t.baseUrl}/metrics`)).text();
          assert.match(metrics, new RegExp(`keyhold_purged_rows_total\\{table="refresh_tokens"\\} ${50 * 41}\\b`));
          assert.match(metrics, /keyhold_purged_rows_total\{table="sessions"\} 50\b/);

          // Nothing more to do.
          const again = await purge(t, 7);
          assert.equal(again.removed.refresh_tokens, 0);
          assert.equal(again.removed.sessions, 0);

          // Reuse detection, for every live family, past the grace window: presenting a rotated
          // token that can still be presented (the oldest unexpired one, the next to expire)
          // revokes the session; in the other families the current token still refreshes.
          t.clock.advanceSeconds(60);
          const later = t.clock.now();
          for (const [i, family] of live.entries()) {
            const current = family.tokens.at(-1)!.token;
            if (i % 2 === 0) {
              const rotated = family.tokens.slice(0, -1).find((token) => token.expiresAt > later)!;
              const reuse = await t.api.post('/auth/refresh', { refresh_token: rotated.token });
              assert.equal(reuse.status, 401);
              assert.deepEqual(reuse.body, { detail: 'Refresh token has been revoked', code: 'refresh_token_revoked' });
              const after = await t.api.post('/auth/refresh', { refresh_token: current });
              assert.equal(after.status, 401, 'the reuse ended the session');
              const session = await t.app.ctx.db.selectFrom('sessions').select('revoked_at').where('id', '=', family.sessionId).executeTakeFirstOrThrow();
              assert.notEqual(session.revoked_at, null);
            } else {
              const refreshed = await t.api.post('/auth/refresh', { refresh_token: current });
              assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
            }
          }
          // A purged family's tokens have all expired: they fail as any expired token does.
          const gone = await t.api.post('/auth/refresh', { refresh_token: dead[0]!.tokens.at(-1)!.token });
          assert.equal(gone.status, 401);
          assert.deepEqual(gone.body, { detail: 'Invalid refresh token', code: 'invalid_refresh_token' });
          const reuseEvents = await t.app.ctx.db.selectFrom('audit_logs').select('id').where('action', '=', 'auth.refresh_token_reuse').execute();
          assert.equal(reuseEvents.length, 25);
        } finally {
          await t.close();
        }
      });

      it('revoked sessions go 30 days after revocation, with their tokens; newer ones stay', async () => {
        const t = await startApp(kind);
        try {
          const { user, email, password } = await registerUser(t.api);
          const login = () => startFamily(t, email, password, user.id);
          const logout = async (family: Family) => {
            const response = await t.api.post('/auth/logout', { refresh_token: family.tokens.at(-1)!.token });
            assert.equal(response.status, 200, JSON.stringify(response.body));
          };
          // Day 0: `old` is revoked; `idle` is never used again. Day 15: `recent` signs in,
          // revoked on day 20. Day 30: `fresh` signs in, revoked on day 31, its token still valid.
          const old = await login();
          await login(); // idle
          await logout(old);
          t.clock.advanceDays(15);
          const recent = await login();
          t.clock.advanceDays(5);
          await logout(recent);
          t.clock.advanceDays(10);
          const fresh = await login();
          t.clock.advanceDays(1);
          await logout(fresh);
          t.clock.advanceSeconds(1);
          // Now day 31: `old` was revoked 31 days ago.

          const dryRun = await purgeExpiredRows(t.app.ctx, { dryRun: true });
          const report = await purge(t, 1);
          assert.equal(report.removed.sessions, 2, 'old (revoked), idle (expired)');
          assert.equal(report.removed.refresh_tokens, 3, "old's, idle's and recent's (expired)");
          assert.equal(dryRun.removed.sessions, 2);
          assert.equal(dryRun.removed.refresh_tokens, 3);
          setEqual(await sessionIds(t), new Set([recent.sessionId, fresh.sessionId]), 'sessions left');
          setEqual(await tableHashes(t), new Set([fresh.tokens[0]!.hash]), 'refresh tokens left');

          // An hour before `recent` has been revoked for 30 days, it stays; an hour after, the
          // app's own hourly run (the periodic task app.ts registers) removes it.
          t.clock.advanceDays(19 - 1 / 24);
          assert.equal((await purge(t, 5)).removed.sessions, 0);
          t.clock.advanceDays(2 / 24);
          await t.app.ctx.db.updateTable('periodic_tasks').set({ next_run_at: sql`now()` }).where('name', '=', 'retention').execute();
          assert.deepEqual(await t.app.ctx.jobs.periodic.runDue(), ['retention']);
          setEqual(await sessionIds(t), new Set([fresh.sessionId]), 'sessions left');
          assert.ok(t.logs.some((line) => line.includes('"retention: purged expired rows"') && line.includes('"sessions":1')), 'the run is logged');
        } finally {
          await t.close();
        }
      });

      it('a family stays while an older token outlives its newest (REFRESH_TOKEN_EXPIRE_DAYS lowered)', async () => {
        const database = await createTestDatabase(kind, { persistent: true });
        const clock = new FakeClock();
        try {
          // Signed in while tokens lasted 30 days; refreshed once they last 7.
          let family: Family;
          let t = await startApp(kind, { database, clock, env: { REFRESH_TOKEN_EXPIRE_DAYS: '30' } });
          try {
            const { user, email, password } = await registerUser(t.api);
            family = await startFamily(t, email, password, user.id);
          } finally {
            await t.close();
          }
          t = await startApp(kind, { database, clock });
          try {
            await refreshFamily(t, family, 1, true);
            t.clock.advanceDays(8);
            // The newest expired yesterday; the first still verifies for 22 days: nothing goes.
            assert.equal((await purge(t, 5)).removed.refresh_tokens, 0);
            setEqual(await tableHashes(t), new Set(family.tokens.map((token) => token.hash)), 'refresh tokens left');
            const reuse = await t.api.post('/auth/refresh', { refresh_token: family.tokens[0]!.token });
            assert.equal(reuse.status, 401);
            assert.deepEqual(reuse.body, { detail: 'Refresh token has been revoked', code: 'refresh_token_revoked' });
            const events = await t.app.ctx.db.selectFrom('audit_logs').select('id').where('action', '=', 'auth.refresh_token_reuse').execute();
            assert.equal(events.length, 1, 'still detected as reuse');
            // Once that one has expired too (by EXPIRY_MARGIN_SECONDS, for instances whose clocks
            // differ a little), the family goes; the session, now revoked, stays 30 days.
            t.clock.advanceSeconds((family.tokens[0]!.expiresAt.getTime() - t.clock.now().getTime()) / 1000 + EXPIRY_MARGIN_SECONDS - 1);
            assert.equal((await purge(t, 5)).removed.refresh_tokens, 0);
            t.clock.advanceSeconds(2);
            assert.equal((await purge(t, 5)).removed.refresh_tokens, 2);
          } finally {
            await t.close();
          }
        } finally {
          await database.drop();
        }
      });

      it('single-use rows go a day after they were used or expired; usable and recent ones stay', async () => {
        const t = await startApp(kind);
        try {
          const { user } = await registerUser(t.api);
          const db = t.app.ctx.db;
          const now = t.clock.now();
          const hours = (h: number) => new Date(now.getTime() + h * 3_600_000);
          // [label, expires_at, used_at, goes]
          const cases: Array<[string, Date, Date | null, boolean]> = [
            ['used 25 h ago', hours(1), hours(-25), true],
            ['expired 25 h ago', hours(-25), null, true],
            ['used 48 h ago, expired 47 h ago', hours(-47), hours(-48), true],
            ['used 23 h ago', hours(1), hours(-23), false],
            ['expired 23 h ago', hours(-23), null, false],
            ['usable', hours(1), null, false],
            ['usable for a week', hours(24 * 7), null, false],
          ];
          for (const [label, expiresAt, usedAt] of cases) {
            const hash = `test:${label}`;
            await db.insertInto('password_reset_tokens').values({ token_hash: hash, user_id: user.id, expires_at: expiresAt, used_at: usedAt }).execute();
            await db
              .insertInto('email_verification_tokens')
              .values({ token_hash: hash, user_id: user.id, email: 'x@example.com', expires_at: expiresAt, used_at: usedAt })
              .execute();
            await db
              .insertInto('oauth_states')
              .values({ state_hash: hash, provider: 'google', code_verifier: 'v', nonce: 'n', redirect_uri: 'https://app.test/cb', expires_at: expiresAt, used_at: usedAt })
              .execute();
          }
          // Registration's own verification token is usable for a day: it stays too.
          const report = await purge(t, 2);
          const goes = cases.filter(([, , , gone]) => gone).length;
          for (const table of ['password_reset_tokens', 'email_verification_tokens', 'oauth_states'] as const) {
            assert.equal(report.removed[table], goes, table);
            const key = table === 'oauth_states' ? 'state_hash' : 'token_hash';
            const left = new Set(
              (await sql<{ key: string }>`SELECT ${sql.ref(key)} AS key FROM ${sql.table(table)}`.execute(db)).rows.map((row) => row.key),
            );
            for (const [label, , , gone] of cases) assert.equal(left.has(`test:${label}`), !gone, `${table}: ${label}`);
          }
        } finally {
          await t.close();
        }
      });

      it('audit events go after AUDIT_RETENTION_DAYS; with 0 none ever do', async () => {
        for (const days of [30, 0]) {
          const t = await startApp(kind, { env: { AUDIT_RETENTION_DAYS: String(days) } });
          try {
            await registerUser(t.api); // some real events, just recorded
            const now = t.clock.now();
            for (const age of [10_000, 31, 30.5, 29]) {
              await t.app.ctx.db
                .insertInto('audit_logs')
                .values({ action: `test.aged_${String(age).replace('.', '_')}`, created_at: addDays(now, -age), details: '{}' })
                .execute();
            }
            const before = await rowCount(t, 'audit_logs');
            const dryRun = await purgeExpiredRows(t.app.ctx, { dryRun: true });
            const report = await purge(t, 1);
            const actions = (await t.app.ctx.db.selectFrom('audit_logs').select('action').execute()).map((row) => row.action);
            if (days === 30) {
              assert.equal(report.removed.audit_logs, 3);
              assert.equal(dryRun.removed.audit_logs, 3);
              assert.equal(await rowCount(t, 'audit_logs'), before - 3);
              assert.deepEqual(actions.filter((action) => action.startsWith('test.')), ['test.aged_29']);
            } else {
              assert.equal(report.removed.audit_logs, 0);
              assert.match(report.rules.audit_logs!, /kept forever/);
              assert.equal(await rowCount(t, 'audit_logs'), before);
            }
          } finally {
            await t.close();
          }
        }
      });
    });
  }
});
