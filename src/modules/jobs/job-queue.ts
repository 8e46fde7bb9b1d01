// The worker of the durable job queue: runs due jobs of every registered kind, each kind in a
// lane of its own (a slow kind never delays another) with up to its handler's `concurrency`
// jobs at once (default 1), polling every OUTBOX_POLL_INTERVAL_MS and whenever a service calls
// notify() after a commit that queued a job. Requests never wait on a job; an outage of what a job talks to, or a
// restart, delays it (it stays pending and is retried) but never drops it.
//
// What a claim costs: one statement that reads only its own kind's due entries (jobs.repo.ts).
// And no claim where this process knows there is nothing new: notify() wakes only the lanes of
// the kinds whose jobs this process committed since; the poll wakes every lane; and a lane whose
// last claim saw nothing else due claims nothing more until one of those wakes it.
//
// It also carries the periodic tasks (periodic.ts): every(name, { intervalMs }, fn).
import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../../config.js';
import type { Db } from '../../db/executor.js';
import { claimDueJob, markParkedJobs } from './jobs.repo.js';
import { watchLocalChanges } from './local-queues.js';
import type { ClaimedJob, JobHandler, JobKind, JobPayloads, ParkedKind } from './jobs.types.js';
import { coalesced } from './coalesced.js';
import { runAttempt } from './job-attempt.js';
import { createLane, fullGroups, groupOf, hasRoom, type Lane } from './job-lanes.js';

export { jitter, MAX_RETRY_DELAY_MS, retryDelayMs, stepSchedule } from './retry-schedule.js';
import { createPeriodicScheduler, type PeriodicScheduler, type PeriodicTask, type PeriodicTaskOptions } from './periodic.js';

export interface JobQueue {
  /** Runs jobs of `handler.kind` on this instance. One handler per kind. */
  register<K extends JobKind>(handler: JobHandler<K>): void;
  /** This instance does not run `kind`; its jobs are shown once and left pending (jobs.types.ts). */
  park<K extends JobKind>(parked: ParkedKind<K>): void;
  /** The kinds registered or parked here (for the queue-depth metrics). */
  kinds(): JobKind[];
  /** A periodic task run on one instance at a time, at most once per interval (periodic.ts). */
  every(name: string, options: PeriodicTaskOptions, fn: PeriodicTask): void;
  /** The scheduler of every() tasks; tests drive it with runDue(). */
  readonly periodic: PeriodicScheduler;
  start(): void;
  /** Wake the worker now (after a commit that queued a job): the lanes of the kinds queued
   *  since the last notify(). */
  notify(): void;
  /** Finish the jobs (and periodic runs) in flight, then stop. */
  stop(): Promise<void>;
}

/** What the queue needs (a subset of AppContext, named here so the queue does not import it). */
export interface JobQueueDeps {
  db: Db;
  config: Readonly<Config>;
  log: FastifyBaseLogger;
}

const DEFAULT_LEASE_SECONDS = 5 * 60;
const leaseSecondsOf = (lane: Lane): number => lane.handler.leaseSeconds ?? DEFAULT_LEASE_SECONDS;
const PARKED_BATCH = 50;
export function createJobQueue(deps: JobQueueDeps): JobQueue {
  const { db, config, log } = deps;
  const lanes = new Map<JobKind, Lane>();
  const parked = new Map<JobKind, ParkedKind<JobKind>>();
  const periodic = createPeriodicScheduler({ db, log, tickMs: config.outboxPollIntervalMs });
  let running = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let databaseFailing = false;
  // A job written claimed by this process's own change is handed over at the commit (events'
  // webhook deliveries, local-queues.ts): while it runs a kind, the queue says its lease.
  const local = watchLocalChanges(db, (kind) => {
    const lane = running ? lanes.get(kind) : undefined;
    return lane && leaseSecondsOf(lane);
  });
  const parkedPass = coalesced(() => guarded(showParked), () => running);

  /** The poll: every lane looks for due jobs (and the parked kinds for new ones). */
  function poll(): void {
    if (!running) return;
    clearTimeout(timer);
    timer = setTimeout(poll, config.outboxPollIntervalMs);
    timer.unref();
    wakeKinds(undefined);
  }

  /** The lanes of `kinds` (all when undefined) look for due jobs. */
  function wakeKinds(kinds: readonly JobKind[] | undefined): void {
    if (!running) return;
    if (kinds === undefined || kinds.some((kind) => parked.has(kind))) parkedPass.poke();
    for (const lane of kinds === undefined ? lanes.values() : kinds.map((kind) => lanes.get(kind))) {
      if (!lane) continue;
      lane.paused = false;
      wake(lane);
    }
  }

  /** Something may have become due in `lane`: it claims again (see Lane.wakes). */
  function wake(lane: Lane): void {
    lane.wakes += 1;
    lane.fill.poke();
  }

  /** The database answered: a later failure is a new outage. (Only after a query: a lane that
   *  is full, or no parked kind, proves nothing, and must not make the next failure warn again.) */
  function reachable(): void {
    databaseFailing = false;
  }

  async function guarded(work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (err) {
      // The database is unreachable (or a query failed): nothing was lost, the jobs are still
      // pending. Say so once per outage (across lanes) and try again at the next poll.
      if (!databaseFailing) log.warn({ err: { message: (err as Error).message } }, 'job queue unavailable; will retry');
      databaseFailing = true;
    }
  }

  async function fillLane(lane: Lane): Promise<void> {
    const { handler } = lane;
    const lease = leaseSecondsOf(lane);
    // Jobs handed over at their commit first (no claim), then claims.
    while (running && !lane.paused && lane.inFlight.size < lane.concurrency) {
      const job = local.takeHanded(handler.kind, (handed) => hasRoom(lane, handed)) ?? (await claimNext(lane, lease));
      if (!job) return;
      const group = groupOf(lane, job);
      if (group !== undefined) lane.groups.set(group, (lane.groups.get(group) ?? 0) + 1);
      // Claimed (its attempt counted): run it even if stop() came meanwhile; stop() waits.
      const run: Promise<void> = guarded(async () => {
        // After such a failure the service is probably down: leave the kind's other due jobs
        // for the next poll instead of spending an attempt of each of them on it now.
        const result = await runAttempt({ db, log }, handler, job);
        reachable();
        if (result === 'retry' && handler.pauseAfterFailure) lane.paused = true;
      }).finally(() => {
        lane.inFlight.delete(run);
        if (group !== undefined) {
          const before = lane.groups.get(group) ?? 1;
          if (before > 1) lane.groups.set(group, before - 1);
          else lane.groups.delete(group);
          // The claims excluded this group's jobs while it was full (and so did their "more
          // due"): now that it is not, they may be due.
          if (before >= (handler.group?.concurrency ?? Infinity)) lane.wakes += 1;
        }
        // A slot is free, for a job the claim saw due besides; and the job may have queued
        // jobs of another kind (handler.enqueues).
        lane.fill.poke();
        for (const kind of handler.enqueues ?? []) {
          const woken = lanes.get(kind);
          if (woken) wake(woken);
        }
      });
      lane.inFlight.add(run);
    }
  }

  /**
   * The next due job of the lane's kind, claimed. A lane whose claim saw nothing more due claims
   * nothing until it is woken again (no claim for an idle lane, Lane.drainedAt); a wake during
   * this claim counts, since the claim may have looked too early.
   */
  async function claimNext(lane: Lane, leaseSeconds: number): Promise<ClaimedJob | undefined> {
    if (lane.wakes === lane.drainedAt) return undefined;
    const wakesBefore = lane.wakes;
    const { job, moreDue } = await claimDueJob(db, { kind: lane.handler.kind, leaseSeconds, exclude: fullGroups(lane) });
    reachable();
    if (!moreDue) lane.drainedAt = wakesBefore;
    return job;
  }

  async function showParked(): Promise<void> {
    for (const entry of parked.values()) {
      for (;;) {
        const batch = await markParkedJobs(db, { kind: entry.kind, reason: entry.reason, limit: PARKED_BATCH });
        reachable();
        for (const job of batch) entry.onParked({ id: job.id, kind: entry.kind, payload: job.payload as JobPayloads[JobKind] });
        if (batch.length < PARKED_BATCH) break;
      }
    }
  }

  function claimKind(kind: JobKind): void {
    if (lanes.has(kind) || parked.has(kind)) throw new Error(`job kind ${kind} is already registered`);
  }

  return {
    register(handler) {
      claimKind(handler.kind);
      const lane: Lane = createLane(handler as unknown as JobHandler<JobKind>, (self) => coalesced(() => guarded(() => fillLane(self)), () => running));
      lanes.set(handler.kind, lane);
    },
    park(entry) {
      claimKind(entry.kind);
      parked.set(entry.kind, entry as unknown as ParkedKind<JobKind>);
    },
    kinds() {
      return [...lanes.keys(), ...parked.keys()];
    },
    every(name, options, fn) {
      periodic.every(name, options, fn);
    },
    periodic,
    start() {
      if (running || stopped) return;
      running = true;
      periodic.start();
      poll();
    },
    notify() {
      // Only the lanes of the kinds queued by transactions that have committed since the last
      // notify() (local-queues.ts noteEnqueued, db/after-commit.ts): a sign-in that queued
      // nothing claims nothing. Other instances' jobs, retries and expired leases: the poll.
      const kinds = local.take();
      if (kinds.length > 0) wakeKinds(kinds);
      // Jobs handed over claimed: their lanes start them, and claim nothing for them.
      for (const kind of local.handedKinds()) lanes.get(kind)?.fill.poke();
    },
    async stop() {
      running = false;
      stopped = true;
      local.close();
      clearTimeout(timer);
      const stopping = periodic.stop();
      // Claims in progress first (a claim that lands still runs its job), then every job running.
      await Promise.all([parkedPass.settled(), ...[...lanes.values()].map((lane) => lane.fill.settled())]);
      await Promise.all([...lanes.values()].flatMap((lane) => [...lane.inFlight]));
      await stopping;
      for (const lane of lanes.values()) lane.handler.close?.();
    },
  };
}
