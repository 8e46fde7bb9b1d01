// The durable job queue (modules/jobs/): typed enqueue, per-kind attempts and schedules, the
// claim's lease, the upgrade from email_outbox, periodic tasks across instances, and the purge.
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Kysely, PostgresDialect, sql } from 'kysely';
import { openDatabase, type DatabaseHandle, type Executor } from '../src/db/database.js';
import type { Database } from '../src/db/schema.js';
import { loadConfig } from '../src/config.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { LOGGED_NOT_SENT } from '../src/modules/email/email-job.js';
import { createJobQueue, stepSchedule, type JobQueue } from '../src/modules/jobs/job-queue.js';
import { claimDueJob, enqueue, enqueueLater, markJobSucceeded, purgeFinishedJobs } from '../src/modules/jobs/jobs.repo.js';
import { HANDED_DATA_TRUSTED_MS, handOver, handOverLease, watchLocalChanges } from '../src/modules/jobs/local-queues.js';
import { PermanentJobError, type AttemptResult, type ClaimedJob, type JobHandler } from '../src/modules/jobs/jobs.types.js';
import { createPeriodicScheduler, type PeriodicScheduler } from '../src/modules/jobs/periodic.js';
import { jobQueueStats } from '../src/modules/metrics/metrics.repo.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { createTestDatabase, DATABASE_KINDS, openMemoryDatabase, type DatabaseKind } from './helpers/database.js';
import { uniqueEmail } from './helpers/fixtures.js';
import { countingStatements, queuedEmails, waitFor } from './helpers/jobs.js';
import { smtpEnv, startSmtpServer, type TestSmtpServer } from './helpers/smtp.js';

// Kinds for these tests only (the queue is typed by this map: jobs.types.ts).
declare module '../src/modules/jobs/jobs.types.js' {
  interface JobPayloads {
    'test.work': { n: number; secret: string | null };
    'test.unhandled': { n: number };
    'test.slow': { n: number };
    'test.hang': { n: number };
    'test.parallel': { n: number };
    'test.idle': { n: number };
    'test.recorded': { n: number };
    'test.marker': { n: number };
    'test.forgotten': { n: number };
    'test.handed': { n: number };
  }
}

// Type-checked (npm test runs tsc first), never run: a payload of the wrong shape, or an
// unknown kind, does not compile.
export function wrongPayloadsDoNotCompile(db: Executor): void {
  // @ts-expect-error an email job needs an email payload
  void enqueue(db, 'email', { n: 1, secret: null });
  // @ts-expect-error a field of the wrong type
  void enqueue(db, 'test.work', { n: '1', secret: null });
  // @ts-expect-error no such kind
  void enqueue(db, 'test.nothing', { n: 1 });
}

const HOUR = 3_600_000;

/** Resolves with `held`, or when `signal` aborts (so a failed test's stop() does not hang). */
const until = (held: Promise<void>, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    void held.then(resolve);
    signal.addEventListener('abort', () => resolve());
  });

const jobRow = (db: Executor, id: string) => db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

/** A second app on the first one's database: the same PostgreSQL database, or the same embedded one. */
function secondInstance(kind: DatabaseKind, first: TestApp, env: Record<string, string> = {}): Promise<TestApp> {
  return startTestApp(kind, { env, ...(kind === 'postgres' ? { database: first.database } : { sharedDatabase: shareHandle(first.app.ctx.db) }) });
}

function shareHandle(db: Executor): DatabaseHandle {
  return { db, kind: 'embedded', ping: async () => void (await sql`select 1`.execute(db)), close: async () => {} };
}

describe('retry schedules', () => {
  it('stepSchedule follows a fixed list (webhooks: 5 s … 12 h), the last delay repeating, with jitter', () => {
    const webhook = stepSchedule([5_000, 60_000, 300_000, 1_800_000, 2 * HOUR, 6 * HOUR, 12 * HOUR], () => 0.5);
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 8, 12].map(webhook), [5_000, 60_000, 300_000, 1_800_000, 2 * HOUR, 6 * HOUR, 12 * HOUR, 12 * HOUR, 12 * HOUR]);
    assert.equal(stepSchedule([10_000], () => 0)(1), 8_000);
    assert.equal(stepSchedule([10_000], () => 0.999_999)(3), 12_000);
  });
});

describe('database unreachable', () => {
  it('warns once per outage, whatever the number of lanes and polls', async () => {
    // Every query fails, as when the server is down.
    const pool = { connect: async () => Promise.reject(new Error('connect ECONNREFUSED')), end: async () => {} };
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: pool as never }) });
    const warnings: string[] = [];
    const log = { warn: (_: unknown, message: string) => warnings.push(message), info: () => {}, error: () => {} };
    const config = loadConfig({ OUTBOX_POLL_INTERVAL_MS: '50' });
    const queue = createJobQueue({ db, config, log: log as never });
    for (const kind of ['test.work', 'test.slow'] as const) queue.register({ kind, maxAttempts: 1, retryDelayMs: () => 0, run: async () => {} });
    queue.start();
    for (let i = 0; i < 5; i++) {
      queue.notify();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await queue.stop();
    assert.deepEqual(warnings.filter((m) => m === 'job queue unavailable; will retry'), ['job queue unavailable; will retry']);
  });
});

for (const kind of DATABASE_KINDS) {
  describe(`job queue (${kind})`, () => {
    let t: TestApp;
    let queue: JobQueue;
    const results: Array<{ n: number; attempt: number; result: AttemptResult }> = [];
    const delaysAsked: number[] = [];
    /** What test.work does for payload n: throw this, or succeed (undefined). */
    const failures = new Map<number, () => Error>();

    before(async () => {
      t = await startTestApp(kind);
      // A queue of its own next to the app's: it runs only the test kinds (the app's runs email).
      queue = createJobQueue({ db: t.app.ctx.db, config: t.app.ctx.config, log: t.app.ctx.log });
      const handler: JobHandler<'test.work'> = {
        kind: 'test.work',
        maxAttempts: 3,
        retryDelayMs: (attempt) => {
          delaysAsked.push(attempt);
          return 0;
        },
        async run(job) {
          const failure = failures.get(job.payload.n);
          if (failure) throw failure();
        },
        finalPayload: (payload) => ({ ...payload, secret: null }),
        onResult: (result, job) => results.push({ n: job.payload.n, attempt: job.attempt, result }),
      };
      queue.register(handler);
      queue.start();
    });
    after(async () => {
      await queue.stop();
      await t.close();
    });

    it('runs a job enqueued in a committed transaction, and none from a rolled-back one', async () => {
      const id = await t.app.ctx.db.transaction().execute((trx) => enqueue(trx, 'test.work', { n: 1, secret: 's3cret' }));
      await assert.rejects(
        t.app.ctx.db.transaction().execute(async (trx) => {
          await enqueue(trx, 'test.work', { n: 2, secret: null });
          throw new Error('the change failed');
        }),
        /the change failed/,
      );
      queue.notify();
      const row = await waitFor('succeeded', async () => {
        const r = await jobRow(t.app.ctx.db, id);
        return r.status === 'succeeded' && r;
      });
      assert.equal(row.attempts, 1);
      assert.ok(row.finished_at instanceof Date);
      assert.deepEqual(row.payload, { n: 1, secret: null }, 'finalPayload replaced the payload');
      const rolledBack = await sql<{ n: number }>`SELECT count(*)::int AS n FROM jobs WHERE payload ->> 'n' = '2'`.execute(t.app.ctx.db);
      assert.equal(rolledBack.rows[0]!.n, 0);
    });

    it('retries with the handler’s schedule and gives up after its maxAttempts', async () => {
      failures.set(3, () => new Error('upstream said no'));
      const id = await enqueue(t.app.ctx.db, 'test.work', { n: 3, secret: 'kept until the end' });
      queue.notify();
      const row = await waitFor('failed', async () => {
        const r = await jobRow(t.app.ctx.db, id);
        return r.status === 'failed' && r;
      });
      assert.equal(row.attempts, 3);
      assert.equal(row.last_error, 'upstream said no');
      assert.deepEqual(row.payload, { n: 3, secret: null }, 'the payload is erased on giving up too');
      assert.deepEqual(results.filter((r) => r.n === 3).map((r) => `${r.attempt}:${r.result}`), ['1:retry', '2:retry', '3:failed']);
      assert.deepEqual(delaysAsked, [1, 2], 'the schedule is asked after each failed attempt but the last');
    });

    it('waits as long as the schedule says before the next attempt', async () => {
      const slow = createJobQueue({ db: t.app.ctx.db, config: t.app.ctx.config, log: t.app.ctx.log });
      slow.register({
        kind: 'test.slow',
        maxAttempts: 10,
        retryDelayMs: () => HOUR,
        run: async () => {
          throw new Error('later');
        },
      });
      const id = await enqueue(t.app.ctx.db, 'test.slow', { n: 4 });
      slow.start();
      try {
        await waitFor('first attempt recorded', async () => (await jobRow(t.app.ctx.db, id)).last_error === 'later');
      } finally {
        await slow.stop();
      }
      const delay = await sql<{ s: number }>`SELECT EXTRACT(EPOCH FROM next_attempt_at - now())::float8 AS s FROM jobs WHERE id = ${id}`.execute(t.app.ctx.db);
      const seconds = delay.rows[0]!.s;
      assert.ok(seconds > 3590 && seconds <= 3600, `next attempt in ${seconds} s`);
      assert.equal((await jobRow(t.app.ctx.db, id)).attempts, 1);
      await t.app.ctx.db.deleteFrom('jobs').where('id', '=', id).execute();
    });

    it('notify() after a commit wakes the job\'s lane even when another notify() came between its INSERT and its COMMIT', async () => {
      // The poll is out of the picture (10 minutes): only notify() can wake the lane. A note
      // made at the INSERT was taken by the notify() inside the transaction, whose claim found
      // nothing (not committed yet), and the job then waited for the poll (issue 31).
      const ran: number[] = [];
      const lane = createJobQueue({ db: t.app.ctx.db, config: { ...t.app.ctx.config, outboxPollIntervalMs: 600_000 }, log: t.app.ctx.log });
      lane.register({ kind: 'test.slow', maxAttempts: 1, retryDelayMs: () => 0, run: async (job) => void ran.push(job.payload.n) });
      lane.start();
      try {
        await t.app.ctx.db.transaction().execute(async (trx) => {
          await enqueue(trx, 'test.slow', { n: 40 });
          lane.notify(); // another request's commit, while this job is still invisible
          await new Promise((resolve) => setTimeout(resolve, 300));
        });
        lane.notify();
        await waitFor('the job queued before the other notify ran', async () => ran.includes(40));
        // A rolled-back change notes nothing, and a notify() with nothing noted claims nothing.
        await assert.rejects(t.app.ctx.db.transaction().execute(async (trx) => {
          await enqueue(trx, 'test.slow', { n: 41 });
          throw new Error('rolled back');
        }));
        lane.notify();
        await new Promise((resolve) => setTimeout(resolve, 300));
        assert.deepEqual(ran, [40]);
      } finally {
        await lane.stop();
      }
    });

    it('gives up at once on a PermanentJobError', async () => {
      failures.set(5, () => new PermanentJobError('cannot ever work'));
      const id = await enqueue(t.app.ctx.db, 'test.work', { n: 5, secret: null });
      queue.notify();
      const row = await waitFor('failed', async () => {
        const r = await jobRow(t.app.ctx.db, id);
        return r.status === 'failed' && r;
      });
      assert.equal(row.attempts, 1);
      assert.equal(row.last_error, 'cannot ever work');
    });

    it('leaves a kind no instance runs pending and untouched', async () => {
      const id = await enqueue(t.app.ctx.db, 'test.unhandled', { n: 6 });
      queue.notify();
      t.app.ctx.jobs.notify();
      // A later job of a kind that is run: once it is done, both workers have looked past the first.
      const later = await enqueue(t.app.ctx.db, 'test.work', { n: 7, secret: null });
      queue.notify();
      await waitFor('the later job', async () => (await jobRow(t.app.ctx.db, later)).status === 'succeeded');
      const row = await jobRow(t.app.ctx.db, id);
      assert.deepEqual([row.status, row.attempts, row.last_error], ['pending', 0, null]);
      await t.app.ctx.db.deleteFrom('jobs').where('id', '=', id).execute();
    });

    it('a job queued with a delay is not claimed before its time, and is once it comes', async () => {
      const id = await enqueueLater(t.app.ctx.db, { kind: 'test.unhandled', payload: { n: 9 }, delaySeconds: 60 });
      const { seconds } = (await sql<{ seconds: number }>`SELECT extract(epoch FROM next_attempt_at - now())::float8 AS seconds FROM jobs WHERE id = ${id}`.execute(t.app.ctx.db)).rows[0]!;
      assert.ok(seconds > 55 && seconds <= 60, `due in ${seconds} s`);
      assert.equal((await claimDueJob(t.app.ctx.db, { kind: 'test.unhandled', leaseSeconds: 300 })).job, undefined, 'not due yet');
      await t.app.ctx.db.updateTable('jobs').set({ next_attempt_at: sql`now() - interval '1 second'` }).where('id', '=', id).execute();
      assert.equal((await claimDueJob(t.app.ctx.db, { kind: 'test.unhandled', leaseSeconds: 300 })).job?.id, id);
      await t.app.ctx.db.deleteFrom('jobs').where('id', '=', id).execute();
    });

    it('a claim hides the job for its lease; a late result of a lost lease is not recorded', async () => {
      const id = await enqueue(t.app.ctx.db, 'test.unhandled', { n: 8 });
      // A worker claims it and dies (never finishes).
      const { job: dead } = await claimDueJob(t.app.ctx.db, { kind: 'test.unhandled', leaseSeconds: 300 });
      assert.equal(dead?.id, id);
      assert.equal((await claimDueJob(t.app.ctx.db, { kind: 'test.unhandled', leaseSeconds: 300 })).job, undefined, 'hidden while the lease lasts');
      // The lease runs out.
      await t.app.ctx.db.updateTable('jobs').set({ next_attempt_at: sql`now() - interval '1 second'` }).where('id', '=', id).execute();
      const { job: second } = await claimDueJob(t.app.ctx.db, { kind: 'test.unhandled', leaseSeconds: 300 });
      assert.equal(second?.id, id);
      assert.equal(second?.attempt, 2);
      assert.equal(await markJobSucceeded(t.app.ctx.db, { job: dead!, finalPayload: undefined }), false, 'the first worker’s late result is refused');
      assert.equal((await jobRow(t.app.ctx.db, id)).status, 'pending');
      assert.equal(await markJobSucceeded(t.app.ctx.db, { job: second!, finalPayload: undefined }), true);
      assert.equal((await jobRow(t.app.ctx.db, id)).status, 'succeeded');
    });

    it('a lane claims once per job, and not again once its claim saw nothing more due (no claim for an idle lane)', async () => {
      // The queue's claims, counted on their way to the database (the real one).
      const db = t.app.ctx.db;
      const { counting, sent } = countingStatements(db);
      const claims = (): number => sent.filter((text) => text.includes('prepared:claim_due_job')).length;
      // Polls an hour apart: only start() and notify() wake the lane here.
      const idle = createJobQueue({ db: counting, config: { ...t.app.ctx.config, outboxPollIntervalMs: HOUR }, log: t.app.ctx.log });
      const ran: number[] = [];
      idle.register({ kind: 'test.idle', maxAttempts: 1, retryDelayMs: () => 0, run: async (job) => void ran.push(job.payload.n) });
      const ids = [await enqueue(db, 'test.idle', { n: 1 })];
      try {
        idle.start();
        await waitFor('the lone job ran', async () => ran.length === 1);
        await new Promise((resolve) => setTimeout(resolve, 200));
        assert.equal(claims(), 1, 'the claim saw nothing else due: no claim after the job');
        for (const n of [2, 3, 4]) ids.push(await enqueue(db, 'test.idle', { n }));
        idle.notify();
        await waitFor('three more ran', async () => ran.length === 4);
        await new Promise((resolve) => setTimeout(resolve, 200));
        assert.equal(claims(), 4, 'one claim per job, the last seeing nothing more due');
        // A job written claimed by this process's change is handed over at the commit: it runs
        // without a claim. (As events do for their webhook deliveries, events.repo.ts.)
        const lease = handOverLease(counting, 'test.idle');
        assert.equal(lease, 300, 'the queue runs the kind: its lease');
        await db.transaction().execute(async (trx) => {
          const row = (await sql<{ id: string }>`
            INSERT INTO jobs (kind, payload, attempts, next_attempt_at)
            VALUES ('test.idle', ${JSON.stringify({ n: 5 })}::jsonb, 1, now() + make_interval(secs => ${lease}))
            RETURNING id`.execute(trx)).rows[0]!;
          ids.push(row.id);
          await handOver(trx, [{ id: row.id, kind: 'test.idle', payload: { n: 5 }, attempt: 1, lastError: null }]);
        });
        idle.notify();
        await waitFor('the handed-over job ran', async () => ran.length === 5);
        await new Promise((resolve) => setTimeout(resolve, 200));
        assert.equal(claims(), 4, 'no claim for it');
        const rows = await db.selectFrom('jobs').select(['status', 'attempts']).where('id', 'in', ids).execute();
        assert.deepEqual(rows.map((row) => `${row.status}:${row.attempts}`), Array(5).fill('succeeded:1'));
      } finally {
        await idle.stop();
        await db.deleteFrom('jobs').where('id', 'in', ids).execute();
      }
    });

    it('what a change hands over with a job stands for a moment: a job taken later comes without it (its run reads afresh)', async () => {
      const db = t.app.ctx.db;
      const view = watchLocalChanges(db, (kind) => (kind === 'test.handed' ? 60 : undefined));
      const job = (n: number): ClaimedJob => ({ id: `00000000-0000-4000-8000-00000000000${n}`, kind: 'test.handed', payload: { n }, attempt: 1, lastError: null, handedWith: { n } });
      try {
        await db.transaction().execute((trx) => handOver(trx, [job(1), job(2)]));
        assert.deepEqual(view.takeHanded('test.handed', () => true)?.handedWith, { n: 1 });
        await new Promise((resolve) => setTimeout(resolve, HANDED_DATA_TRUSTED_MS + 100));
        const late = view.takeHanded('test.handed', () => true);
        assert.equal(late?.id, job(2).id);
        assert.equal(late?.handedWith, undefined);
      } finally {
        view.close();
      }
    });

    it('a handler’s own write is made in the same statement as its job’s success', async () => {
      const db = t.app.ctx.db;
      const { counting, sent: statements } = countingStatements(db);
      const recording = createJobQueue({ db: counting, config: { ...t.app.ctx.config, outboxPollIntervalMs: HOUR }, log: t.app.ctx.log });
      recording.register({
        kind: 'test.recorded',
        maxAttempts: 1,
        retryDelayMs: () => 0,
        run: async (job) => ({
          recordWith: { sql: `INSERT INTO jobs (kind, payload, status, finished_at) VALUES ('test.marker', $1::jsonb, 'succeeded', now())`, parameters: [JSON.stringify({ n: job.payload.n })] },
        }),
      });
      const id = await enqueue(db, 'test.recorded', { n: 41 });
      try {
        recording.start();
        await waitFor('the job succeeded', async () => (await jobRow(db, id)).status === 'succeeded');
        const marker = await db.selectFrom('jobs').select('id').where('kind', '=', 'test.marker').where(sql`payload->>'n'`, '=', '41').execute();
        assert.equal(marker.length, 1, 'the handler’s write was made');
        const ends = statements.filter((text) => text.includes('finish_job'));
        assert.equal(ends.length, 1);
        assert.match(ends[0]!, /^\/\* prepared:finish_job_with_test_recorded \*\/[\s\S]*INSERT INTO jobs/, 'one prepared statement, both writes');
      } finally {
        await recording.stop();
        await db.deleteFrom('jobs').where('kind', 'in', ['test.recorded', 'test.marker']).execute();
      }
    });

    it('a kind that forgets on success: a succeeded job is deleted, a failed one kept', async () => {
      const db = t.app.ctx.db;
      const forgetting = createJobQueue({ db, config: { ...t.app.ctx.config, outboxPollIntervalMs: HOUR }, log: t.app.ctx.log });
      const ran: number[] = [];
      forgetting.register({
        kind: 'test.forgotten',
        maxAttempts: 1,
        retryDelayMs: () => 0,
        forgetOnSuccess: true,
        run: async (job) => {
          ran.push(job.payload.n);
          if (job.payload.n === 2) throw new Error('refused');
        },
      });
      const ids = [await enqueue(db, 'test.forgotten', { n: 1 }), await enqueue(db, 'test.forgotten', { n: 2 })];
      try {
        forgetting.start();
        await waitFor('both ran', async () => ran.length === 2);
        await waitFor('the failure recorded', async () => (await db.selectFrom('jobs').select('status').where('id', '=', ids[1]!).executeTakeFirst())?.status === 'failed');
        assert.equal(await db.selectFrom('jobs').select('id').where('id', '=', ids[0]!).executeTakeFirst(), undefined, 'the succeeded job is gone');
      } finally {
        await forgetting.stop();
        await db.deleteFrom('jobs').where('kind', '=', 'test.forgotten').execute();
      }
    });

    it('a job’s end is committed without waiting for the WAL flush, and only its own transaction is', async () => {
      const db = t.app.ctx.db;
      const id = await enqueue(db, 'test.marker', { n: 1 });
      const { job } = await claimDueJob(db, { kind: 'test.marker', leaseSeconds: 60 });
      assert.equal(job?.id, id);
      const setting = (executor: Executor) => sql<{ synchronous_commit: string }>`SHOW synchronous_commit`.execute(executor).then((r) => r.rows[0]!.synchronous_commit);
      await db.transaction().execute(async (trx) => {
        assert.equal(await setting(trx), 'on');
        assert.equal(await markJobSucceeded(trx, { job: job!, finalPayload: undefined }), true);
        assert.equal(await setting(trx), 'off', 'the end’s transaction commits asynchronously');
      });
      assert.equal(await setting(db), 'on', 'no other transaction is');
      assert.equal((await db.selectFrom('jobs').select('status').where('id', '=', id).executeTakeFirstOrThrow()).status, 'succeeded');
      await db.deleteFrom('jobs').where('id', '=', id).execute();
    });

    it('reports pending jobs and the oldest one’s age by kind, and 0 for a known kind with none', async () => {
      await t.app.ctx.db.deleteFrom('jobs').where('status', '=', 'pending').execute();
      assert.deepEqual(await jobQueueStats(t.app.ctx.db, ['email']), [{ kind: 'email', pending: 0, oldestAgeSeconds: 0 }]);
      for (const n of [9, 10]) {
        await t.app.ctx.db.insertInto('jobs')
          .values({ kind: 'test.unhandled', payload: JSON.stringify({ n }), created_at: sql`now() - interval '90 seconds'` })
          .execute();
      }
      const stats = await jobQueueStats(t.app.ctx.db, ['email']);
      assert.deepEqual(stats.map((s) => [s.kind, s.pending]), [['email', 0], ['test.unhandled', 2]]);
      const age = stats[1]!.oldestAgeSeconds;
      assert.ok(age >= 90 && age < 120, `oldest ${age} s`);
      await t.app.ctx.db.deleteFrom('jobs').where('kind', '=', 'test.unhandled').execute();
    });

    it('purgeFinishedJobs deletes finished jobs older than the cut-off, in bounded batches', async () => {
      await t.app.ctx.db.deleteFrom('jobs').execute();
      const insert = (status: 'pending' | 'succeeded' | 'failed', daysAgo: number) =>
        t.app.ctx.db.insertInto('jobs').values({
          kind: 'test.unhandled',
          payload: JSON.stringify({ n: daysAgo }),
          status,
          created_at: sql`now() - make_interval(days => ${daysAgo + 1})`,
          next_attempt_at: sql`now() - make_interval(days => ${daysAgo + 1})`,
          finished_at: status === 'pending' ? null : sql`now() - make_interval(days => ${daysAgo})`,
        }).execute();
      for (const days of [40, 41, 42]) await insert('succeeded', days);
      await insert('failed', 35);
      await insert('succeeded', 10);
      await insert('pending', 60);
      const before = new Date(Date.now() - 30 * 86_400_000);
      assert.equal(await purgeFinishedJobs(t.app.ctx.db, before, 3), 3);
      assert.equal(await purgeFinishedJobs(t.app.ctx.db, before, 3), 1);
      assert.equal(await purgeFinishedJobs(t.app.ctx.db, before, 3), 0);
      const left = await t.app.ctx.db.selectFrom('jobs').select(['status']).orderBy('status').execute();
      assert.deepEqual(left.map((r) => r.status), ['pending', 'succeeded'], 'pending and recent jobs stay');
      const oldest = await purgeFinishedJobs(t.app.ctx.db, new Date(), 10);
      assert.equal(oldest, 1, 'the recent one goes with a later cut-off; the pending one never');
      await t.app.ctx.db.deleteFrom('jobs').execute();
    });
  });

  describe(`lanes and concurrency (${kind})`, () => {
    let t: TestApp;
    let smtp: TestSmtpServer;

    before(async () => {
      smtp = await startSmtpServer();
      t = await startTestApp(kind, { env: smtpEnv(smtp) });
    });
    after(async () => {
      await t.close();
      await smtp.close();
    });

    it('a job of another kind that hangs does not delay an email queued after it', async (ctx) => {
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let started = false;
      // On the app's own queue, next to its email handler.
      t.app.ctx.jobs.register({
        kind: 'test.hang',
        maxAttempts: 1,
        retryDelayMs: () => 0,
        async run() {
          started = true;
          await until(held, ctx.signal);
        },
      });
      try {
        const hanging = await enqueue(t.app.ctx.db, 'test.hang', { n: 1 });
        t.app.ctx.jobs.notify();
        await waitFor('the hanging job started', async () => started);
        const to = uniqueEmail('behind-a-hang');
        const payload = { template: 'verify_email', to, subject: 'not held up', text: 'hello', html: '<p>hello</p>' } as const;
        await enqueue(t.app.ctx.db, 'email', payload);
        t.app.ctx.jobs.notify();
        await smtp.waitForMessage(to, 3000);
        const row = await jobRow(t.app.ctx.db, hanging);
        assert.deepEqual([row.status, row.attempts], ['pending', 1], 'the hanging job was still running');
      } finally {
        release();
      }
    });

    it('runs `concurrency` jobs of a kind at once and never more; stop() waits for all of them', async (ctx) => {
      const queue = createJobQueue({ db: t.app.ctx.db, config: t.app.ctx.config, log: t.app.ctx.log });
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let running = 0;
      let most = 0;
      queue.register({
        kind: 'test.parallel',
        maxAttempts: 1,
        retryDelayMs: () => 0,
        concurrency: 3,
        async run() {
          most = Math.max(most, ++running);
          try {
            await until(held, ctx.signal);
          } finally {
            running--;
          }
        },
      });
      const ids: string[] = [];
      for (let n = 0; n < 7; n++) ids.push(await enqueue(t.app.ctx.db, 'test.parallel', { n }));
      queue.start();
      let stopped = false;
      try {
        await waitFor('three running', async () => running >= 3);
        // More wake-ups and polls (100 ms here) claim nothing while the three slots are taken.
        for (let i = 0; i < 5; i++) queue.notify();
        await new Promise((resolve) => setTimeout(resolve, 300));
        assert.equal(most, 3);
        const stopping = queue.stop().then(() => (stopped = true));
        await new Promise((resolve) => setTimeout(resolve, 100));
        assert.equal(stopped, false, 'stop() waits for the jobs running');
        release();
        await stopping;
        assert.equal(running, 0);
        const rows = await t.app.ctx.db.selectFrom('jobs').select(['status', 'attempts']).where('id', 'in', ids).execute();
        assert.deepEqual(rows.map((r) => `${r.status}:${r.attempts}`).sort(), [
          ...Array(4).fill('pending:0'),
          ...Array(3).fill('succeeded:1'),
        ]);
        assert.equal(most, 3, 'never more than three at once');
      } finally {
        release();
        await queue.stop();
        await t.app.ctx.db.deleteFrom('jobs').where('id', 'in', ids).execute();
      }
    });
  });

  describe(`upgrade from email_outbox (${kind})`, () => {
    it('carries every email_outbox row into jobs, and an instance with SMTP delivers what was pending', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'keyhold-migrations-'));
      await copyFile(new URL('../migrations/0001_initial.sql', import.meta.url), join(dir, '0001_initial.sql'));
      const database = kind === 'postgres' ? await createTestDatabase('postgres') : undefined;
      const handle = database
        ? await openDatabase({ databaseUrl: database.url!, dataDir: '' })
        : await openMemoryDatabase();
      const smtp = await startSmtpServer();
      const fresh = uniqueEmail('queued-by-0.1');
      const logged = uniqueEmail('logged-by-0.1');
      let app: TestApp | undefined;
      try {
        assert.deepEqual((await migrateToLatest(handle.db, `${dir}/`)).applied, ['0001_initial']);
        // As 0.1 wrote them: a fresh message, one an instance without SMTP_URL logged, one
        // waiting for a retry, one sent, one given up.
        const insert = async (row: {
          kind: string; to: string; subject: string; text: string | null; html: string | null;
          status: string; attempts: number; dueInSeconds: number; lastError: string | null; sentSecondsAgo: number | null;
        }) => {
          const result = await sql<{ id: string }>`
            INSERT INTO email_outbox (kind, to_address, subject, text_body, html_body, status, attempts, next_attempt_at, last_error, sent_at)
            VALUES (${row.kind}, ${row.to}, ${row.subject}, ${row.text}, ${row.html}, ${row.status}, ${row.attempts},
                    now() + make_interval(secs => ${row.dueInSeconds}), ${row.lastError},
                    CASE WHEN ${row.sentSecondsAgo}::float8 IS NULL THEN NULL ELSE now() - make_interval(secs => ${row.sentSecondsAgo}) END)
            RETURNING id`.execute(handle.db);
          return result.rows[0]!.id;
        };
        const pending = { status: 'pending', attempts: 0, dueInSeconds: 0, lastError: null, sentSecondsAgo: null };
        const freshId = await insert({ ...pending, kind: 'verify_email', to: fresh, subject: 'Verify your email address', text: 'open http://frontend.test/verify-email?token=a', html: '<p>a</p>' });
        const loggedId = await insert({ ...pending, kind: 'reset_password', to: logged, subject: 'Reset your password', text: 'open http://frontend.test/reset-password?token=b', html: '<p>b</p>', lastError: LOGGED_NOT_SENT });
        const waitingId = await insert({ ...pending, kind: 'account_invite', to: 'waiting@example.com', subject: 'You are invited to join an account', text: 'c', html: '<p>c</p>', attempts: 4, dueInSeconds: 3600, lastError: '451 Try again later' });
        const done = { text: null, html: null, subject: 'Verify your email address', kind: 'verify_email', dueInSeconds: -86_400 };
        const sentId = await insert({ ...done, to: 'sent@example.com', status: 'sent', attempts: 1, lastError: null, sentSecondsAgo: 86_400 });
        const failedId = await insert({ ...done, to: 'failed@example.com', status: 'failed', attempts: 30, lastError: '550 no such user', sentSecondsAgo: null });
        const before = await sql<{ id: string; next_attempt_at: Date; created_at: Date; sent_at: Date | null }>`SELECT id, next_attempt_at, created_at, sent_at FROM email_outbox`.execute(handle.db);
        if (database) await handle.close();

        app = await startTestApp(kind, { env: smtpEnv(smtp), ...(database ? { database } : { sharedDatabase: handle }) });
        const db = app.app.ctx.db;
        const first = await smtp.waitForMessage(fresh);
        assert.equal(first.subject, 'Verify your email address');
        assert.ok(first.messageId.includes(freshId), 'the 0.1 row id is still the Message-ID');
        const second = await smtp.waitForMessage(logged);
        assert.ok(second.messageId.includes(loggedId), 'logged by an instance without SMTP_URL, delivered now');
        await waitFor('both marked succeeded', async () => {
          const rows = [...(await queuedEmails(db, { to: fresh })), ...(await queuedEmails(db, { to: logged }))];
          return rows.length === 2 && rows.every((r) => r.status === 'succeeded' && r.text === null);
        });

        const byId = new Map((await queuedEmails(db)).map((row) => [row.id, row]));
        assert.equal(byId.size, 5);
        const at = (id: string) => before.rows.find((r) => r.id === id)!;
        const waiting = byId.get(waitingId)!;
        assert.deepEqual(
          [waiting.status, waiting.attempts, waiting.last_error, waiting.template, waiting.to, waiting.text, waiting.html],
          ['pending', 4, '451 Try again later', 'account_invite', 'waiting@example.com', 'c', '<p>c</p>'],
        );
        assert.equal(waiting.next_attempt_at.getTime(), at(waitingId).next_attempt_at.getTime(), 'its retry time is kept');
        assert.equal(waiting.created_at.getTime(), at(waitingId).created_at.getTime());
        const sent = byId.get(sentId)!;
        assert.deepEqual([sent.status, sent.attempts, sent.text], ['succeeded', 1, null]);
        assert.equal(sent.finished_at?.getTime(), at(sentId).sent_at!.getTime());
        const failed = byId.get(failedId)!;
        assert.deepEqual([failed.status, failed.attempts, failed.last_error], ['failed', 30, '550 no such user']);
        assert.ok(failed.finished_at instanceof Date, 'a finished job has a finish time (retention reads it)');
        const outbox = await sql<{ t: string | null }>`SELECT to_regclass('email_outbox')::text AS t`.execute(db);
        assert.equal(outbox.rows[0]!.t, null, 'email_outbox is gone');
      } finally {
        await app?.close();
        if (!database) await handle.close();
        await database?.drop();
        await smtp.close();
        await rm(dir, { recursive: true, force: true });
      }
    });
  });

  describe(`periodic tasks (${kind})`, () => {
    let a: TestApp;
    let b: TestApp;
    const schedulers: PeriodicScheduler[] = [];
    /** A scheduler as each app builds one, not started: the test calls runDue() itself. */
    const scheduler = (t: TestApp) => {
      const s = createPeriodicScheduler({ db: t.app.ctx.db, log: t.app.ctx.log, tickMs: 60_000 });
      schedulers.push(s);
      return s;
    };
    const makeDue = (t: TestApp, name: string) =>
      t.app.ctx.db.updateTable('periodic_tasks').set({ next_run_at: sql`now()` }).where('name', '=', name).execute();
    const task = (t: TestApp, name: string) =>
      t.app.ctx.db.selectFrom('periodic_tasks').selectAll().where('name', '=', name).executeTakeFirstOrThrow();

    before(async () => {
      a = await startTestApp(kind);
      b = await secondInstance(kind, a);
    });
    after(async () => {
      for (const s of schedulers) await s.stop();
      await b.close();
      await a.close();
    });

    it('two instances run a task once per interval, never twice', async () => {
      const runs: string[] = [];
      const onA = scheduler(a);
      const onB = scheduler(b);
      onA.every('test.once', { intervalMs: HOUR }, async () => void runs.push('a'));
      onB.every('test.once', { intervalMs: HOUR }, async () => void runs.push('b'));
      const tickBoth = () => Promise.all([onA.runDue(), onB.runDue(), onA.runDue(), onB.runDue(), onB.runDue(), onA.runDue()]);

      const first = await tickBoth();
      assert.equal(runs.length, 1, `ran on ${runs.join(', ')}`);
      assert.equal(first.flat().length, 1);
      await tickBoth();
      assert.equal(runs.length, 1, 'not again within the interval');

      // The interval has passed (as the database sees it).
      await makeDue(a, 'test.once');
      await tickBoth();
      assert.equal(runs.length, 2, `ran on ${runs.join(', ')}`);
      const row = await task(a, 'test.once');
      const ahead = (row.next_run_at.getTime() - row.last_started_at!.getTime()) / 1000;
      assert.equal(Math.round(ahead), 3600, 'the next run is one interval after this one started');
      assert.equal(row.running_until, null);
    });

    it('a run still going is not joined by another when the next is due', async () => {
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      const runs: string[] = [];
      const onA = scheduler(a);
      const onB = scheduler(b);
      onA.every('test.long', { intervalMs: HOUR }, async (signal) => {
        runs.push('a');
        await until(held, signal);
      });
      onB.every('test.long', { intervalMs: HOUR }, async () => void runs.push('b'));
      const running = onA.runDue();
      await waitFor('the run on a', async () => runs.length === 1);
      await makeDue(a, 'test.long');
      assert.deepEqual(await Promise.all([onB.runDue(), onA.runDue()]), [[], []], 'due, but the run holds its lease');
      release();
      assert.deepEqual(await running, ['test.long']);
      assert.deepEqual(runs, ['a']);
      assert.deepEqual(await onB.runDue(), ['test.long'], 'once it ends, the due run goes ahead');
      assert.deepEqual(runs, ['a', 'b']);
    });

    it('a run longer than its lease keeps it by its heartbeat; a dead instance’s lease runs out', async () => {
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      const runs: string[] = [];
      const onA = scheduler(a);
      const onB = scheduler(b);
      onA.every('test.heartbeat', { intervalMs: HOUR, leaseMs: 1000 }, async (signal) => {
        runs.push('a');
        await until(held, signal);
      });
      onB.every('test.heartbeat', { intervalMs: HOUR, leaseMs: 1000 }, async () => void runs.push('b'));
      const running = onA.runDue();
      await waitFor('the run on a', async () => runs.length === 1);
      await makeDue(a, 'test.heartbeat');
      await new Promise((resolve) => setTimeout(resolve, 1600));
      assert.deepEqual(await onB.runDue(), [], 'past the first lease, but renewed');
      release();
      await running;

      // An instance that died mid-run: its lease is in the past, so the task is free.
      await a.app.ctx.db.updateTable('periodic_tasks')
        .set({ next_run_at: sql`now()`, running_until: sql`now() - interval '1 second'`, run_id: '00000000-0000-4000-8000-000000000000' })
        .where('name', '=', 'test.heartbeat').execute();
      assert.deepEqual(await onB.runDue(), ['test.heartbeat']);
      assert.deepEqual(runs, ['a', 'b']);
    });

    it('records a failed run and runs again at the next interval', async () => {
      const onA = scheduler(a);
      let calls = 0;
      onA.every('test.failing', { intervalMs: HOUR }, async () => {
        calls++;
        throw new Error('purge hit a snag');
      });
      assert.deepEqual(await onA.runDue(), ['test.failing']);
      const row = await task(a, 'test.failing');
      assert.equal(row.last_error, 'purge hit a snag');
      assert.equal(row.running_until, null);
      assert.deepEqual(await onA.runDue(), []);
      await makeDue(a, 'test.failing');
      await onA.runDue();
      assert.equal(calls, 2);
    });

    it('stop() aborts a run in flight and waits for it', async () => {
      const onA = scheduler(a);
      let sawAbort = false;
      onA.every('test.abortable', { intervalMs: HOUR }, (signal) => new Promise<void>((resolve) => {
        signal.addEventListener('abort', () => {
          sawAbort = true;
          resolve();
        });
      }));
      const running = onA.runDue();
      await waitFor('running', async () => {
        const row = await a.app.ctx.db.selectFrom('periodic_tasks').select('running_until').where('name', '=', 'test.abortable').executeTakeFirst();
        return row?.running_until != null;
      });
      await onA.stop();
      assert.ok(sawAbort);
      assert.deepEqual(await running, ['test.abortable']);
      assert.equal((await task(a, 'test.abortable')).running_until, null);
      assert.deepEqual(await onA.runDue(), [], 'a stopped scheduler claims nothing');
    });

    it('the app’s queue runs its every() tasks by itself', async () => {
      const c = await secondInstance(kind, a, { OUTBOX_POLL_INTERVAL_MS: '100' });
      try {
        let runs = 0;
        c.app.ctx.jobs.every('test.by-itself', { intervalMs: HOUR }, async () => void runs++);
        await waitFor('a run', async () => runs === 1);
        assert.deepEqual(await c.app.ctx.jobs.periodic.runDue(), []);
      } finally {
        await c.close();
      }
    });
  });

  describe(`periodic tasks across a restart (${kind})`, () => {
    it('keep their next run time in the database', async () => {
      const database = await createTestDatabase(kind, { persistent: true });
      try {
        let runs = 0;
        const first = await startTestApp(kind, { database });
        const before = createPeriodicScheduler({ db: first.app.ctx.db, log: first.app.ctx.log, tickMs: 60_000 });
        before.every('test.daily', { intervalMs: 24 * HOUR }, async () => void runs++);
        assert.deepEqual(await before.runDue(), ['test.daily']);
        await before.stop();
        await first.close();

        const second = await startTestApp(kind, { database });
        try {
          const after = createPeriodicScheduler({ db: second.app.ctx.db, log: second.app.ctx.log, tickMs: 60_000 });
          after.every('test.daily', { intervalMs: 24 * HOUR }, async () => void runs++);
          assert.deepEqual(await after.runDue(), [], 'ran a minute ago, before the restart: not due');
          assert.equal(runs, 1);
          await after.stop();
          // A shorter interval in a new release: due one new interval after the last run.
          const shorter = createPeriodicScheduler({ db: second.app.ctx.db, log: second.app.ctx.log, tickMs: 60_000 });
          shorter.every('test.daily', { intervalMs: HOUR }, async () => void runs++);
          assert.deepEqual(await shorter.runDue(), []);
          const row = await second.app.ctx.db.selectFrom('periodic_tasks').selectAll().where('name', '=', 'test.daily').executeTakeFirstOrThrow();
          assert.equal(Math.round((row.next_run_at.getTime() - row.last_started_at!.getTime()) / 1000), 3600);
          await shorter.stop();
        } finally {
          await second.close();
        }
      } finally {
        await database.drop();
      }
    });
  });
}
