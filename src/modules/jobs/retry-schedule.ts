// Retry schedules for job handlers' retryDelayMs (re-exported by job-queue.ts).

export const MAX_RETRY_DELAY_MS = 60 * 60 * 1000;

/**
 * Exponential back-off: the first retry one base interval (the poll interval) after the
 * failure, doubling up to an hour, with ±20% jitter so instances and jobs do not retry in
 * lock-step after an outage.
 */
export function retryDelayMs(attempts: number, baseMs: number, random: () => number = Math.random): number {
  const delay = Math.min(baseMs * 2 ** Math.max(0, attempts - 1), MAX_RETRY_DELAY_MS);
  return jitter(delay, random);
}

/** ±20% of `delayMs`, rounded to the millisecond. */
export function jitter(delayMs: number, random: () => number = Math.random): number {
  return Math.round(delayMs * (0.8 + 0.4 * random()));
}

/**
 * A fixed schedule of retry delays (with jitter): after attempt n the n-th delay, the last one
 * repeating. Webhooks, say: [5 s, 1 min, 5 min, 30 min, 2 h, 6 h, 12 h] with maxAttempts 13
 * retry for about three days.
 */
export function stepSchedule(delaysMs: readonly number[], random: () => number = Math.random): (attempt: number) => number {
  if (delaysMs.length === 0) throw new Error('stepSchedule needs at least one delay');
  return (attempt) => jitter(delaysMs[Math.min(Math.max(attempt, 1), delaysMs.length) - 1]!, random);
}
