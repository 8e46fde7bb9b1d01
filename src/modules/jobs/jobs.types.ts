// The kinds of job and what each carries. enqueue(trx, kind, payload) and every handler are
// typed by this map, so a payload of the wrong shape (or an unknown kind) does not compile.
//
// Each kind declares its own payload, from its own module, by augmenting the interface:
// `declare module '../jobs/jobs.types.js' { interface JobPayloads { webhook: … } }` (email:
// email/email-job.ts; event: events/emit-event.ts; webhook: webhooks/webhook-jobs.ts), so the
// queue imports none of the modules that use it.
// Payloads are stored as JSON: plain objects of strings, numbers, booleans, null and arrays —
// a Date comes back as a string. Never put anything in a payload you would not keep in the
// database; what must not outlive the job (an email body with a token) is erased by the
// handler's `finalPayload` when the job finishes.
import type { Write } from '../../db/together.js';

export interface JobPayloads {}

export type JobKind = keyof JobPayloads & string;

export type JobStatus = 'pending' | 'succeeded' | 'failed';

/** A job claimed for one attempt. */
export interface ClaimedJob<K extends JobKind = JobKind> {
  id: string;
  kind: K;
  payload: JobPayloads[K];
  /** The attempt this claim starts: 1 the first time. */
  attempt: number;
  /** What the previous attempt (or a parked instance) recorded; null on a first attempt. */
  lastError: string | null;
  /** What the change that wrote the job handed over with it (local-queues.ts handOver): data its
   *  run would otherwise read back, as that change saw it. In this process's memory only, never
   *  stored; none on a job claimed from the table, or taken long after its hand-over. */
  handedWith?: unknown;
}

/** What a handler's run may return on success. */
export interface JobSuccess {
  /** Written together with the job's success (db/together.ts), as one prepared statement per
   *  kind: its text must never vary (a repo's prepared statement's `marked` text). */
  readonly recordWith: Write;
}

/** The result of one attempt, as handlers' `onResult` sees it. */
export type AttemptResult = 'succeeded' | 'retry' | 'failed';

/** One per kind, registered with the queue (JobQueue.register). */
export interface JobHandler<K extends JobKind> {
  readonly kind: K;
  /** Attempts before the job is given up (status 'failed'). */
  readonly maxAttempts: number;
  /**
   * Delay before the next attempt after attempt number `attempt` (1-based) failed. Any
   * schedule fits: exponential back-off (retryDelayMs), or a fixed list (stepSchedule).
   */
  retryDelayMs(attempt: number): number;
  /**
   * How long a claimed job is hidden from every other worker. Far longer than one attempt can
   * take: a job is only run again while this one may still be running if its worker died.
   * Default 300 s.
   */
  readonly leaseSeconds?: number;
  /**
   * After a failed attempt, leave this kind's other due jobs for the next poll (default false):
   * for a kind whose failures usually mean the one service it talks to is down (SMTP).
   */
  readonly pauseAfterFailure?: boolean;
  /**
   * Jobs of this kind run at once on one instance (default 1: one after another). Each kind has
   * a lane of its own, so this never holds up another kind. More than 1 only for a kind whose
   * jobs may run side by side in any order (webhook deliveries).
   */
  readonly concurrency?: number;
  /**
   * Jobs of one group (the payload's string `field`, e.g. a webhook's endpoint) run at most
   * `concurrency` at once on one instance: the lane claims other groups' jobs meanwhile, so one
   * slow group never takes every slot. (Per instance: N instances run up to N times as many.)
   */
  readonly group?: { readonly field: string; readonly concurrency: number };
  /** Kinds this handler's run may queue jobs of: their lanes look for work when an attempt
   *  ends (as notify() after a commit), instead of at the next poll. */
  readonly enqueues?: readonly JobKind[];
  /** Does the work. Throwing fails the attempt: retried, or given up after maxAttempts, or at
   *  once for a PermanentJobError. The error's message (never the payload) is recorded and logged.
   *  It may return a write of its own to make in the same statement as the job's success
   *  (JobSuccess): one round trip and one commit fewer per job. */
  run(job: ClaimedJob<K>): Promise<void | JobSuccess>;
  /**
   * A job whose success is on record elsewhere (a webhook delivery's own row) is deleted when it
   * succeeds, instead of kept finished until the purge: one write fewer on the due path (no new
   * row version, no index entries). Failed jobs are kept as always. Default false.
   */
  readonly forgetOnSuccess?: boolean;
  /** The payload kept once the job has finished either way (e.g. without a body carrying a
   *  token). Default: unchanged. */
  finalPayload?(payload: JobPayloads[K]): JobPayloads[K];
  /** Extra, non-secret fields for the queue's log lines about this job. */
  describe?(payload: JobPayloads[K]): Record<string, unknown>;
  /** After each attempt is recorded (metrics). */
  onResult?(result: AttemptResult, job: ClaimedJob<K>): void;
  /** Called once when the queue stops, after the job in flight (close a connection). */
  close?(): void;
}

/**
 * For a kind this instance does not run (email without SMTP_URL): each new pending job of the
 * kind is shown to `onParked` once and marked with `reason` as its last_error; it stays pending
 * for an instance that runs the kind. Its attempts are not touched.
 */
export interface ParkedKind<K extends JobKind> {
  readonly kind: K;
  readonly reason: string;
  onParked(job: { id: string; kind: K; payload: JobPayloads[K] }): void;
}

/** Thrown by a handler for a failure no retry can fix: the job is given up at once. */
export class PermanentJobError extends Error {
  override readonly name = 'PermanentJobError';
}
