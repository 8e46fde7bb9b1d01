// The unit of work: a change's statements in one transaction, then, once it has committed,
// the job queue woken for what the change queued (emails, events, webhook deliveries). Jobs
// are enqueued inside the transaction (jobs.repo.ts enqueue), so they commit or roll back with
// the change. Every service change goes through inUnitOfWork and no route or service calls
// notify() by hand (issue 25): a forgotten notify only delayed mail and webhooks until the
// next poll, which no test noticed (test/unit-of-work.test.ts now does).
//
// enqueue() marks the transaction it wrote in (markEnqueued), so a change that queued nothing
// (a failed login's counter, a profile read under lock) wakes nothing and costs the queue no
// claim; one that queued wakes every lane after its commit.
import type { Executor } from './executor.js';

export interface UnitOfWorkDeps {
  db: Executor;
  /**
   * The job queue (AppContext.jobs). Required, even where it is undefined (some CLI commands
   * run no queue), so a service's deps cannot leave it out by accident and never wake it.
   */
  jobs: { notify(): void } | undefined;
}

/** Transactions in which a job was enqueued (weak: a transaction object dies with its work). */
const queuedIn = new WeakSet<object>();

/** Called by jobs.repo.ts enqueue with the executor it wrote through. */
export function markEnqueued(db: Executor): void {
  queuedIn.add(db);
}

/** Runs `work` in a transaction; after it commits, wakes the queue if the work queued a job. A failure rolls back and wakes nothing. */
export async function inUnitOfWork<T>(deps: UnitOfWorkDeps, work: (trx: Executor) => Promise<T>): Promise<T> {
  let trx: Executor | undefined;
  const result = await deps.db.transaction().execute((t) => {
    trx = t;
    return work(t);
  });
  if (trx && queuedIn.has(trx)) deps.jobs?.notify();
  return result;
}
