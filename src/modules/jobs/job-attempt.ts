// One attempt of a claimed job: run its handler, then record the outcome (succeeded, retry at
// the handler's schedule, or failed for good) and tell the handler's onResult hook.
import type { FastifyBaseLogger } from 'fastify';
import type { Db } from '../../db/executor.js';
import { markJobFailed, markJobSucceeded, scheduleJobRetry } from './jobs.repo.js';
import { PermanentJobError, type AttemptResult, type ClaimedJob, type JobHandler, type JobKind, type JobSuccess } from './jobs.types.js';

const MAX_ERROR_LENGTH = 500;

export async function runAttempt(deps: { db: Db; log: FastifyBaseLogger }, handler: JobHandler<JobKind>, job: ClaimedJob): Promise<AttemptResult> {
  const { db, log } = deps;
  const about = { id: job.id, kind: job.kind, attempt: job.attempt, ...handler.describe?.(job.payload) };
  let result: AttemptResult;
  let recorded: boolean;
  let success: JobSuccess | void;
  try {
    success = await handler.run(job);
    result = 'succeeded';
  } catch (err) {
    // Only the error is logged, never the payload: it may carry a token.
    const reason = describeError(err);
    if (err instanceof PermanentJobError || job.attempt >= handler.maxAttempts) {
      recorded = await markJobFailed(db, { job, error: reason, finalPayload: handler.finalPayload?.(job.payload) });
      result = 'failed';
      log.error({ job: about, reason }, 'job failed; giving up');
    } else {
      const delayMs = Math.max(0, Math.round(handler.retryDelayMs(job.attempt)));
      recorded = await scheduleJobRetry(db, { job, delayMs, error: reason });
      result = 'retry';
      log.warn({ job: { ...about, retryInMs: delayMs }, reason }, 'job failed; will retry');
    }
    finish(log, { handler, job, result, recorded });
    return result;
  }
  recorded = await markJobSucceeded(db, { job, finalPayload: handler.finalPayload?.(job.payload), recordWith: success?.recordWith, forget: handler.forgetOnSuccess });
  log.info({ job: about }, 'job succeeded');
  finish(log, { handler, job, result, recorded });
  return result;
}

function finish(log: FastifyBaseLogger, outcome: { handler: JobHandler<JobKind>; job: ClaimedJob; result: AttemptResult; recorded: boolean }): void {
  const { handler, job, result, recorded } = outcome;
  // The lease ran out during the attempt and another worker claimed the job: its attempt
  // decides. (A lease far longer than any attempt makes this a worker that was stalled.)
  if (!recorded) log.warn({ job: { id: job.id, kind: job.kind, attempt: job.attempt } }, 'job lease lost; result not recorded');
  try {
    handler.onResult?.(result, job);
  } catch (err) {
    log.warn({ err: { message: (err as Error).message }, job: { id: job.id, kind: job.kind } }, 'job result hook failed');
  }
}

export function describeError(err: unknown): string {
  const e = err as { message?: unknown; code?: unknown };
  const parts = [typeof e?.message === 'string' ? e.message : String(err)];
  if (typeof e?.code === 'string' && !parts[0]!.includes(e.code)) parts.push(`(${e.code})`);
  return parts.join(' ').replace(/\s+/g, ' ').slice(0, MAX_ERROR_LENGTH);
}
