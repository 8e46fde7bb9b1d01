// Periodic tasks: every(name, { intervalMs }, fn) runs fn about once per interval, on one instance
// at a time, however many instances share the database.
//
// - The schedule is a row of periodic_tasks: the next run time is in the database, so it
//   survives restarts, and every instance reads the same one (the database's clock).
// - A run is claimed by one conditional UPDATE that moves next_run_at one interval on and
//   takes a lease (running_until): never two runs in one interval, across instances.
// - While fn runs, a heartbeat renews the lease, so a long run is never joined by a second one
//   (a due tick meanwhile claims nothing: that interval's run is skipped until this one ends).
//   An instance that dies mid-run stops renewing; once its lease runs out the task is free.
// - A failed run is logged and recorded (last_error); the next one comes at the next interval.
//
// Each instance ticks every OUTBOX_POLL_INTERVAL_MS; a tick costs one UPDATE by primary key per
// task, which writes nothing unless it claims a run. Tests call runDue() themselves.
import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { Db } from '../../db/executor.js';
import { claimPeriodicRun, ensurePeriodicTask, finishPeriodicRun, renewPeriodicLease } from './periodic.repo.js';

/** The work of a periodic task. `signal` aborts when the instance stops (or the run lost its
 *  lease): a long task checks it between batches and returns early. */
export type PeriodicTask = (signal: AbortSignal) => Promise<void>;

export interface PeriodicTaskOptions {
  /** How often the task runs (at least a second). */
  intervalMs: number;
  /**
   * The run's lease, renewed every third of it while the run goes on. Only matters when an
   * instance dies mid-run: the task can run elsewhere this long after the last renewal.
   * Default 60 s.
   */
  leaseMs?: number;
}

export interface PeriodicScheduler {
  every(name: string, options: PeriodicTaskOptions, fn: PeriodicTask): void;
  /**
   * Claims every registered task that is due and not running anywhere, runs those this call
   * claimed, and resolves (with their names) when they have finished.
   */
  runDue(): Promise<string[]>;
  start(): void;
  /** Aborts and awaits the runs in flight; no new ones start. */
  stop(): Promise<void>;
}

export interface PeriodicSchedulerDeps {
  db: Db;
  log: FastifyBaseLogger;
  /** How often start()'s timer calls runDue(). */
  tickMs: number;
}

interface Task {
  name: string;
  intervalMs: number;
  leaseMs: number;
  fn: PeriodicTask;
  ensured: boolean;
}

const DEFAULT_LEASE_MS = 60_000;
const MAX_ERROR_LENGTH = 500;

export function createPeriodicScheduler(deps: PeriodicSchedulerDeps): PeriodicScheduler {
  const { db, log } = deps;
  const tasks = new Map<string, Task>();
  /** Runs of this instance in flight, by task name. */
  const inFlight = new Map<string, { done: Promise<void>; abort: AbortController }>();
  /** claimDue() calls in progress: stop() waits for them before it aborts what they started. */
  const claiming = new Set<Promise<unknown>>();
  let timer: NodeJS.Timeout | undefined;
  let ticking = false;
  let stopped = false;
  let databaseFailing = false;

  /** Claims what is due and starts it; resolves once the claims are made, with each run. */
  function claimDue(): Promise<Array<{ name: string; done: Promise<void> }>> {
    const claim = claimDueNow();
    claiming.add(claim);
    void claim.finally(() => claiming.delete(claim)).catch(() => {});
    return claim;
  }

  async function claimDueNow(): Promise<Array<{ name: string; done: Promise<void> }>> {
    if (stopped || tasks.size === 0) return [];
    for (const task of tasks.values()) {
      if (task.ensured) continue;
      await ensurePeriodicTask(db, task.name, task.intervalMs);
      task.ensured = true;
    }
    const started: Array<{ name: string; done: Promise<void> }> = [];
    // One conditional UPDATE per task: it claims the run, or (not due, or running somewhere)
    // matches no row and writes nothing. No separate look first: the claim alone decides.
    for (const [name, task] of tasks) {
      if (stopped || inFlight.has(name)) continue;
      const runId = randomUUID();
      if (!(await claimPeriodicRun(db, name, { intervalMs: task.intervalMs, leaseMs: task.leaseMs, runId }))) continue;
      const abort = new AbortController();
      const done = run(task, runId, abort).finally(() => inFlight.delete(name));
      inFlight.set(name, { done, abort });
      started.push({ name, done });
    }
    return started;
  }

  async function runDue(): Promise<string[]> {
    const started = await claimDue();
    await Promise.all(started.map(({ done }) => done));
    return started.map(({ name }) => name);
  }

  async function run(task: Task, runId: string, abort: AbortController): Promise<void> {
    const started = Date.now();
    let over = false;
    const heartbeat = setInterval(() => {
      renewPeriodicLease(db, { name: task.name, runId, leaseMs: task.leaseMs }).then(
        (held) => {
          if (held || over) return;
          log.warn({ task: task.name }, 'periodic task lost its lease; stopping it');
          abort.abort();
        },
        (err: Error) => log.warn({ err: { message: err.message }, task: task.name }, 'periodic task lease not renewed'),
      );
    }, Math.max(10, Math.floor(task.leaseMs / 3)));
    heartbeat.unref();
    let error: string | null = null;
    try {
      await task.fn(abort.signal);
      log.info({ task: task.name, ms: Date.now() - started }, 'periodic task done');
    } catch (err) {
      error = (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ').slice(0, MAX_ERROR_LENGTH);
      log.error({ task: task.name, reason: error }, 'periodic task failed');
    } finally {
      clearInterval(heartbeat);
      over = true;
    }
    try {
      await finishPeriodicRun(db, { name: task.name, runId, error });
    } catch (err) {
      // The lease runs out by itself; the task is free again then.
      log.warn({ err: { message: (err as Error).message }, task: task.name }, 'periodic task finish not recorded');
    }
  }

  function tick(): void {
    if (stopped) return;
    // Claims are awaited before the next tick claims again; runs are not: a long run of one
    // task never holds up another (and its own next tick skips it: it is in flight).
    if (!ticking) {
      ticking = true;
      claimDue()
        .then(
          () => {
            databaseFailing = false;
          },
          (err: unknown) => {
            // The database is unreachable: say so once per outage, try again at the next tick.
            if (!databaseFailing) log.warn({ err: { message: (err as Error).message } }, 'periodic tasks unavailable; will retry');
            databaseFailing = true;
          },
        )
        .finally(() => {
          ticking = false;
        });
    }
    timer = setTimeout(tick, deps.tickMs);
    timer.unref();
  }

  return {
    every(name, { intervalMs, leaseMs }, fn) {
      if (tasks.has(name)) throw new Error(`periodic task ${name} is already registered`);
      if (!(intervalMs >= 1000)) throw new Error(`periodic task ${name}: the interval must be at least a second`);
      tasks.set(name, { name, intervalMs, leaseMs: leaseMs ?? DEFAULT_LEASE_MS, fn, ensured: false });
    },
    runDue,
    start() {
      if (timer || stopped) return;
      tick();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await Promise.allSettled([...claiming]);
      for (const { abort } of inFlight.values()) abort.abort();
      await Promise.all([...inFlight.values()].map(({ done }) => done));
    },
  };
}
