// periodic_tasks: the schedule of every(name, …) tasks (periodic.ts). Times are the database's
// clock, as in jobs.repo.ts: several instances sharing one schedule must agree on what is due.
import { sql } from 'kysely';
import type { Executor } from '../../db/database.js';
import { preparedStatement } from '../../db/prepared.js';

/**
 * Makes sure `name` has its schedule row: a new task is due at once. A task whose interval was
 * shortened since its last run is due no later than one new interval after that run.
 */
export async function ensurePeriodicTask(db: Executor, name: string, intervalMs: number): Promise<void> {
  await sql`
    INSERT INTO periodic_tasks (name, next_run_at) VALUES (${name}, now())
    ON CONFLICT (name) DO UPDATE
       SET next_run_at = LEAST(periodic_tasks.next_run_at,
                               COALESCE(periodic_tasks.last_started_at, now()) + make_interval(secs => ${intervalMs / 1000}))
  `.execute(db);
}

// Every instance tries each task's claim on its poll: prepared, like the jobs' statements.
const claimRunStatement = preparedStatement<{ name: string }>('claim_periodic_run', `
    UPDATE periodic_tasks
       SET next_run_at = now() + make_interval(secs => $1::double precision),
           running_until = now() + make_interval(secs => $2::double precision),
           run_id = $3,
           last_started_at = now()
     WHERE name = $4 AND next_run_at <= now()
       AND (running_until IS NULL OR running_until <= now())
    RETURNING name`);

const renewLeaseStatement = preparedStatement<{ name: string }>('renew_periodic_lease', `
    UPDATE periodic_tasks
       SET running_until = now() + make_interval(secs => $1::double precision)
     WHERE name = $2 AND run_id = $3
    RETURNING name`);

const finishRunStatement = preparedStatement('finish_periodic_run', `
    UPDATE periodic_tasks
       SET running_until = NULL, run_id = NULL, last_finished_at = now(), last_error = $1::text
     WHERE name = $2 AND run_id = $3`);

/**
 * Claims one run of a due task that is not running anywhere (no live lease). One conditional
 * UPDATE: of two instances claiming at once, the second waits on the row lock, then finds the
 * row no longer due (next_run_at moved one interval on) and claims nothing. So each interval
 * has at most one run, and a run still going (lease live) is never joined by another.
 */
export async function claimPeriodicRun(db: Executor, name: string, run: { intervalMs: number; leaseMs: number; runId: string }): Promise<boolean> {
  const { intervalMs, leaseMs, runId } = run;
  const rows = await claimRunStatement(db, [intervalMs / 1000, leaseMs / 1000, runId, name]);
  return rows.length > 0;
}

export interface PeriodicLease {
  name: string;
  runId: string;
  leaseMs: number;
}

/** The heartbeat of a run: extends its lease; false once the run no longer holds it. */
export async function renewPeriodicLease(db: Executor, { name, runId, leaseMs }: PeriodicLease): Promise<boolean> {
  const rows = await renewLeaseStatement(db, [leaseMs / 1000, name, runId]);
  return rows.length > 0;
}

export interface PeriodicRunEnd {
  name: string;
  runId: string;
  error: string | null;
}

export async function finishPeriodicRun(db: Executor, { name, runId, error }: PeriodicRunEnd): Promise<void> {
  await finishRunStatement(db, [error, name, runId]);
}
