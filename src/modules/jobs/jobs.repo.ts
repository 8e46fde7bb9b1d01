// The job queue's table: jobs (one row per piece of background work). What this process's
// queues learn from its commits without asking the database is local-queues.ts'. The schedule of
// every(name, …) tasks, periodic_tasks, is periodic.repo.ts's.
//
// Times (next_attempt_at, finished_at, leases) are the database's clock, not the
// app's: rows are created with its now(), and several instances sharing one queue must agree
// on what is due.
import { sql, type InsertObject } from 'kysely';
import type { Executor } from '../../db/database.js';
import type { Database } from '../../db/schema.js';
import { writeOf, writeTogether, type Write } from '../../db/together.js';
import { noteEnqueued } from './local-queues.js';
import { preparedStatement } from '../../db/prepared.js';
import type { ClaimedJob, JobKind, JobPayloads } from './jobs.types.js';
import { finishedRule } from '../retention/retention-rules.js';

/**
 * Queues a job. Call it with the transaction of the change that causes the job, so the two
 * commit (or roll back) together: inside inUnitOfWork (db/unit-of-work.ts), which wakes the
 * worker after the commit because this marks the transaction.
 */
export async function enqueue<K extends JobKind>(db: Executor, kind: K, payload: JobPayloads[K]): Promise<string> {
  const id = await insertJob(db, { kind, payload: JSON.stringify(payload) });
  await noteEnqueued(db, kind);
  return id;
}

export interface LaterJob<K extends JobKind> {
  kind: K;
  payload: JobPayloads[K];
  delaySeconds: number;
}

/** Queues a job due `delaySeconds` from now: the database's clock at this statement (not its
 *  transaction's start, which a long transaction would eat into). As enqueue, but it wakes
 *  nothing: the poll that follows its time finds it. */
export async function enqueueLater<K extends JobKind>(db: Executor, { kind, payload, delaySeconds }: LaterJob<K>): Promise<string> {
  return insertJob(db, { kind, payload: JSON.stringify(payload), next_attempt_at: sql<Date>`clock_timestamp() + make_interval(secs => ${delaySeconds})` });
}

async function insertJob(db: Executor, values: InsertObject<Database, 'jobs'>): Promise<string> {
  const row = await db.insertInto('jobs').values(values).returning('id').executeTakeFirstOrThrow();
  return row.id;
}

/** enqueue as a Write (db/together.ts), for a change that sends its writes together. */
export function enqueueWrite<K extends JobKind>(db: Executor, kind: K, payload: JobPayloads[K]): Write {
  return writeOf(db.insertInto('jobs').values({ kind, payload: JSON.stringify(payload) }).compile(), { then: (trx) => noteEnqueued(trx, kind) });
}

interface ClaimedRow {
  id: string;
  kind: JobKind;
  payload: unknown;
  attempts: number;
  last_error: string | null;
  more_due: boolean;
}

const toClaimed = (row: ClaimedRow): ClaimedJob =>
  ({ id: row.id, kind: row.kind, payload: row.payload, attempt: row.attempts, lastError: row.last_error }) as ClaimedJob;

/** What a claim found: the job it claimed, if any, and whether another job of the kind was due
 *  besides (so a lane that finds nothing more due claims nothing until it is woken). */
export interface Claim {
  job: ClaimedJob | undefined;
  moreDue: boolean;
}

/** Jobs of a kind whose payload `field` is one of `values` are not claimed (their group is at
 *  its concurrency on this instance). */
export interface ClaimExclusion {
  field: string;
  values: readonly string[];
}

export interface JobClaim {
  kind: JobKind;
  leaseSeconds: number;
  exclude?: ClaimExclusion;
}

// The queue's own statements run on every claim, attempt and poll of every instance: prepared
// (db/prepared.ts), each costs its backend about a fifth of the CPU of parsing and planning it
// anew (0.025 against 0.13-0.18 ms for an empty claim, measured 2026-12-07).

/** $1 lease seconds, $2 kind, $3 the excluded payload field, $4 its excluded values (NULL: none). */
const claimStatement = preparedStatement<ClaimedRow>('claim_due_job', `
    UPDATE jobs
       SET attempts = attempts + 1,
           next_attempt_at = now() + make_interval(secs => $1::double precision)
     WHERE id = (
       SELECT id FROM jobs
        WHERE kind = $2 AND status = 'pending' AND next_attempt_at <= now()
          AND ($4::text[] IS NULL OR NOT (COALESCE(payload ->> $3::text, '') = ANY($4::text[])))
        ORDER BY next_attempt_at
        LIMIT 1
        FOR UPDATE SKIP LOCKED)
    RETURNING id, kind, payload, attempts, last_error,
      (SELECT true FROM jobs AS other
        WHERE other.kind = $2 AND other.status = 'pending' AND other.next_attempt_at <= now()
          AND other.id <> jobs.id
          AND ($4::text[] IS NULL OR NOT (COALESCE(other.payload ->> $3::text, '') = ANY($4::text[])))
        ORDER BY other.next_attempt_at
        LIMIT 1) IS NOT NULL AS more_due`);

/**
 * Claims the oldest due job of `kind` for one attempt. The claim reads only that kind's due
 * entries (jobs_due_idx leads with the kind): its cost never depends on other kinds' backlog,
 * nor on finished jobs. SKIP LOCKED lets instances claim side by side without waiting on each
 * other; the lease (next_attempt_at pushed forward by `leaseSeconds`) keeps the job away from
 * every other instance while it runs, without holding a transaction (or the embedded
 * database's only connection) open meanwhile. A worker that dies mid-run leaves the job to be
 * retried when the lease runs out. The same statement says whether another job of the kind
 * (outside the excluded groups) was due besides: an index probe that spares the lane the empty
 * claim it would otherwise make after the job (job-queue.ts). Jobs other workers hold locked
 * count as due: at worst one claim more. (Ordered like the claim so that it, too, walks
 * jobs_due_idx: as a plain EXISTS the generic plan could scan the table for the first match,
 * 40 ms under the backlog of bench/queue-backlog.ts.)
 */
export async function claimDueJob(db: Executor, { kind, leaseSeconds, exclude }: JobClaim): Promise<Claim> {
  const rows = await claimStatement(db, [leaseSeconds, kind, exclude?.field ?? '', exclude && exclude.values.length > 0 ? [...exclude.values] : null]);
  const row = rows[0];
  return row ? { job: toClaimed(row), moreDue: row.more_due } : { job: undefined, moreDue: false };
}

// A job's end (and the handler's write made with it, JobSuccess.recordWith) is committed
// asynchronously: its transaction does not wait for the WAL flush (synchronous_commit off for
// it alone, set in the statement so that it costs no round trip). What a crash can lose is the
// last fraction of a second of such ends (3 x wal_writer_delay at most), never half of one; a
// job whose end was lost is still pending at its attempt, so its lease runs out and it runs
// again, as after a crash during the attempt. Jobs are at-least-once already (webhook
// receivers dedupe by webhook-id). It saves each job a WAL flush: about 0.06 ms of the
// database's CPU and 0.2 ms of waiting on the machine of docs/performance.md.
const ASYNCHRONOUS_COMMIT = `(SELECT set_config('synchronous_commit', 'off', true)) = 'off'`;

/** $1 'succeeded' or 'failed', $2 the error (NULL on success), $3 the final payload (NULL: keep), $4 id, $5 attempt. */
const finishStatement = preparedStatement<{ id: string }>('finish_job', `
    UPDATE jobs
       SET status = $1::text, finished_at = now(), last_error = $2::text,
           payload = COALESCE($3::jsonb, payload)
     WHERE id = $4 AND status = 'pending' AND attempts = $5 AND ${ASYNCHRONOUS_COMMIT}
    RETURNING id`);

/** $1 id, $2 attempt: a succeeded job deleted at once (JobHandler.forgetOnSuccess). */
const forgetStatement = preparedStatement<{ id: string }>('forget_job', `
    DELETE FROM jobs WHERE id = $1 AND status = 'pending' AND attempts = $2 AND ${ASYNCHRONOUS_COMMIT}
    RETURNING id`);

/** $1 delay seconds, $2 error, $3 id, $4 attempt. */
const retryStatement = preparedStatement<{ id: string }>('retry_job', `
    UPDATE jobs
       SET next_attempt_at = now() + make_interval(secs => $1::double precision), last_error = $2::text
     WHERE id = $3 AND status = 'pending' AND attempts = $4
    RETURNING id`);

/** $1 reason, $2 kind, $3 limit. */
const markParkedStatement = preparedStatement<{ id: string; payload: unknown }>('mark_parked_jobs', `
    UPDATE jobs
       SET last_error = $1::text
     WHERE id IN (
       SELECT id FROM jobs
        WHERE kind = $2 AND status = 'pending' AND last_error IS NULL
        ORDER BY created_at
        LIMIT $3::int
        FOR UPDATE SKIP LOCKED)
    RETURNING id, payload`);

// The three ways an attempt ends. Each applies only while the job is still pending at the
// attempt this worker claimed: if the lease ran out and another worker claimed it since
// (attempts moved on), the newer attempt decides, and these return false.

/** How an attempt ended, for the one statement behind markJobSucceeded and markJobFailed. */
interface JobEnd {
  job: ClaimedJob;
  status: 'succeeded' | 'failed';
  error: string | null;
  finalPayload: unknown;
  /** The handler's own write, made in the same statement (JobSuccess). */
  recordWith?: Write;
  /** Deleted instead of kept (JobHandler.forgetOnSuccess; succeeded only). */
  forget?: boolean;
}

async function finishJob(db: Executor, { job, status, error, finalPayload, recordWith, forget }: JobEnd): Promise<boolean> {
  const [statement, parameters] = forget && status === 'succeeded'
    ? [forgetStatement, [job.id, job.attempt]]
    : [finishStatement, [status, error, finalPayload === undefined ? null : JSON.stringify(finalPayload), job.id, job.attempt]];
  if (!recordWith) return (await statement(db, parameters)).length > 0;
  const finish: Write = { sql: statement.marked, parameters, returning: true };
  const name = `${statement === forgetStatement ? 'forget' : 'finish'}_job_with_${job.kind.replace(/[^a-z]/g, '_')}`;
  const [finished] = await writeTogether(db, [finish, recordWith], { preparedAs: name });
  return finished!.length > 0;
}

export interface JobSucceeded {
  job: ClaimedJob;
  finalPayload: unknown;
  recordWith?: Write;
  forget?: boolean;
}

export async function markJobSucceeded(db: Executor, succeeded: JobSucceeded): Promise<boolean> {
  return finishJob(db, { ...succeeded, status: 'succeeded', error: null });
}

export interface JobRetry {
  job: ClaimedJob;
  delayMs: number;
  error: string;
}

export async function scheduleJobRetry(db: Executor, { job, delayMs, error }: JobRetry): Promise<boolean> {
  const rows = await retryStatement(db, [delayMs / 1000, error, job.id, job.attempt]);
  return rows.length > 0;
}

export interface JobFailure {
  job: ClaimedJob;
  error: string;
  finalPayload: unknown;
}

export async function markJobFailed(db: Executor, failure: JobFailure): Promise<boolean> {
  return finishJob(db, { ...failure, status: 'failed' });
}

export interface ParkedJobsMark {
  kind: JobKind;
  reason: string;
  limit: number;
}

/**
 * For a kind this instance does not run: marks up to `limit` pending jobs of `kind` that
 * nothing has recorded anything about yet (last_error IS NULL) with `reason`, and returns them,
 * so each is shown (logged) once. They stay pending and due, with their attempts, for an
 * instance that runs the kind.
 */
export async function markParkedJobs(db: Executor, { kind, reason, limit }: ParkedJobsMark): Promise<Array<{ id: string; payload: unknown }>> {
  return markParkedStatement(db, [reason, kind, limit]);
}

/**
 * Retention: deletes up to `limit` succeeded or failed jobs that finished before `before`,
 * oldest first, and returns how many it deleted. Pending jobs are never touched. Bounded, so
 * a caller repeats it until it returns less than `limit`.
 */
export async function purgeFinishedJobs(db: Executor, before: Date, limit: number): Promise<number> {
  const result = await sql<{ n: number }>`
    WITH doomed AS (
      SELECT id FROM jobs
       WHERE status IN ('succeeded', 'failed') AND finished_at < ${before}
       ORDER BY finished_at
       LIMIT ${limit}),
    deleted AS (
      DELETE FROM jobs WHERE id IN (SELECT id FROM doomed) RETURNING 1)
    SELECT count(*)::int AS n FROM deleted
  `.execute(db);
  return result.rows[0]?.n ?? 0;
}

/** What purgeFinishedJobs would delete with this cut-off, all batches together (a dry run). */
export async function countFinishedJobs(db: Executor, before: Date): Promise<number> {
  const result = await sql<{ n: number }>`
    SELECT count(*)::int AS n FROM jobs WHERE status IN ('succeeded', 'failed') AND finished_at < ${before}
  `.execute(db);
  return result.rows[0]?.n ?? 0;
}

/** Retention (modules/retention): finished jobs (emails, events, deliveries' attempts) after 30 days. */
export const finishedJobRetention = finishedRule({ table: 'jobs', finished: 'finished (sent or failed)', purge: purgeFinishedJobs, count: countFinishedJobs });
