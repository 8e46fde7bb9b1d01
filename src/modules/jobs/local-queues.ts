// What this process's job queues learn from the changes it commits, without asking the
// database: which kinds were queued (so notify() wakes only their lanes), and which jobs were
// handed over already claimed (so they run without a claim at all).
//
// Queues and changes meet through the database object (a Kysely instance: its transactions
// share its adapter), so a CLI command or a second app on another database never sees them.
import type { Executor } from '../../db/executor.js';
import { afterCommit } from '../../db/after-commit.js';
import { markEnqueued } from '../../db/unit-of-work.js';
import type { ClaimedJob, JobKind } from './jobs.types.js';

/** One job queue's side of it (job-queue.ts). */
interface LocalQueue {
  /** Kinds queued and committed since the queue last took them. */
  readonly kinds: Set<JobKind>;
  /** Jobs handed over at their commit, claimed already (see handOverLease), and when. */
  readonly handed: Array<{ job: ClaimedJob; at: number }>;
  /** The lease of `kind` if this queue runs it now, else undefined. */
  leaseOf(kind: JobKind): number | undefined;
}

const queuesByDatabase = new WeakMap<object, Set<LocalQueue>>();

/** How long what a change handed over with a job (ClaimedJob.handedWith) stands for the database. */
export const HANDED_DATA_TRUSTED_MS = 1000;

const queuesOf = (db: Executor): Set<LocalQueue> => {
  const key = db.getExecutor().adapter;
  let queues = queuesByDatabase.get(key);
  if (!queues) queuesByDatabase.set(key, (queues = new Set()));
  return queues;
};

/**
 * Notes that `kind` was queued in `db`'s transaction. notify() after a commit then wakes only
 * those kinds' lanes: a change that queued nothing, or only an email, costs the other lanes no
 * claim. A kind is noted when the transaction commits (db/after-commit.ts), never before: a note
 * taken by another request's notify() while the job was still invisible would leave the job to
 * the poll. A rolled-back change notes nothing.
 */
export async function noteEnqueued(db: Executor, kind: JobKind): Promise<void> {
  markEnqueued(db); // the unit of work wakes the queue after its commit
  const queues = queuesByDatabase.get(db.getExecutor().adapter);
  if (!queues || queues.size === 0) return;
  await afterCommit(db, () => {
    for (const queue of queues) queue.kinds.add(kind);
  });
}

/**
 * A job of `kind` written now may be written claimed (attempts 1, leased for the returned number
 * of seconds) when a queue of this process runs the kind: handOver then gives it to that queue at
 * the commit, and it runs without the claim's write transaction. Undefined: write it due, as
 * usual (no queue here runs the kind: a CLI command, or the kind parked). If this process stops
 * before running it, the lease runs out and any instance claims it, as after a crash.
 */
export function handOverLease(db: Executor, kind: JobKind): number | undefined {
  for (const queue of queuesByDatabase.get(db.getExecutor().adapter) ?? []) {
    const lease = queue.leaseOf(kind);
    if (lease !== undefined) return lease;
  }
  return undefined;
}

/** Gives `jobs`, written claimed under handOverLease, to the queue that runs their kind once
 *  `db`'s transaction commits (its notify() then starts them: handedKinds). */
export async function handOver(db: Executor, jobs: ClaimedJob[]): Promise<void> {
  if (jobs.length === 0) return;
  markEnqueued(db);
  const kind = jobs[0]!.kind;
  await afterCommit(db, () => {
    for (const queue of queuesByDatabase.get(db.getExecutor().adapter) ?? []) {
      if (queue.leaseOf(kind) === undefined) continue;
      const at = Date.now();
      queue.handed.push(...jobs.map((job) => ({ job, at })));
      return;
    }
    // The queue stopped meanwhile: the jobs wait for their lease to run out, then any instance claims them.
  });
}

export interface LocalQueueView {
  /** The kinds noted since the last take(), forgotten as they are taken. */
  take(): JobKind[];
  /** The kinds of the jobs handed over and not yet taken. */
  handedKinds(): JobKind[];
  /** The first handed-over job of `kind` that `accept` takes (the rest stay). One that waited
   *  half its lease is dropped instead: its lease runs out, and a claim gets it then. One that
   *  waited past HANDED_DATA_TRUSTED_MS comes without its handedWith. */
  takeHanded(kind: JobKind, accept: (job: ClaimedJob) => boolean): ClaimedJob | undefined;
  close(): void;
}

/** A job queue's view of what this process queues on `db`. */
export function watchLocalChanges(db: Executor, leaseOf: (kind: JobKind) => number | undefined): LocalQueueView {
  const queue: LocalQueue = { kinds: new Set(), handed: [], leaseOf };
  queuesOf(db).add(queue);
  return {
    take() {
      const taken = [...queue.kinds];
      queue.kinds.clear();
      return taken;
    },
    handedKinds() {
      return [...new Set(queue.handed.map(({ job }) => job.kind))];
    },
    takeHanded(kind, accept) {
      const lease = leaseOf(kind);
      for (let i = 0; i < queue.handed.length; ) {
        const { job, at } = queue.handed[i]!;
        if (job.kind !== kind) {
          i++;
        } else if (lease === undefined || Date.now() - at > (lease * 1000) / 2) {
          queue.handed.splice(i, 1);
        } else if (accept(job)) {
          queue.handed.splice(i, 1);
          // What came with the job is its change's view at the commit: trusted for a moment, so
          // the run reads nothing back; a job that waited longer reads afresh.
          return Date.now() - at <= HANDED_DATA_TRUSTED_MS ? job : { ...job, handedWith: undefined };
        } else {
          i++;
        }
      }
      return undefined;
    },
    close() {
      queuesOf(db).delete(queue);
    },
  };
}
