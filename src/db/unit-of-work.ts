// The unit of work: a change's statements in one transaction, then, once it has committed,
// the job queue woken for what the change queued (emails, events, webhook deliveries). Jobs
// are enqueued inside the transaction (jobs.repo.ts enqueue), so they commit or roll back with
// the change; waking the worker after the commit is what a hand-written `notify()` did.
// (Issue 25: the services move onto this one by one; no route calls notify.)
import type { Executor } from './executor.js';

export interface UnitOfWorkDeps {
  db: Executor;
  /** The job queue (AppContext.jobs); absent where no queue runs (some CLI commands). */
  jobs?: { notify(): void };
}

/** Runs `work` in a transaction; after it commits, wakes the queue. A failure rolls back and wakes nothing. */
export async function inUnitOfWork<T>(deps: UnitOfWorkDeps, work: (trx: Executor) => Promise<T>): Promise<T> {
  const result = await deps.db.transaction().execute(work);
  deps.jobs?.notify();
  return result;
}
