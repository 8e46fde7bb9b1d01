// A lane: one kind's worker on this instance, up to `concurrency` of its jobs at once, claimed
// and run independently of every other kind, so a slow kind never delays another; with
// handler.group, at most group.concurrency jobs of one group (a webhook endpoint) at once.
import type { ClaimedJob, JobHandler, JobKind } from './jobs.types.js';
import type { Coalesced } from './coalesced.js';

export interface Lane {
  readonly handler: JobHandler<JobKind>;
  readonly concurrency: number;
  readonly inFlight: Set<Promise<void>>;
  /** Claims into free slots; pokes during a run coalesce into one more run. */
  readonly fill: Coalesced;
  /** A failed attempt of a pauseAfterFailure kind: claim none of it until the next poll or notify(). */
  paused: boolean;
  /** Jobs in flight per group (handler.group), for the per-group limit. */
  readonly groups: Map<string, number>;
  /** Counts the wakes (poll, notify, a job that queued this kind, a group slot freed). */
  wakes: number;
  /** `wakes` when a claim last found nothing due besides what it claimed: while it is still
   *  the count, the lane is idle and claims nothing. */
  drainedAt: number;
}

/** A lane for `handler`, its settings checked; `fill` is made with the lane (it fills this lane). */
export function createLane(handler: JobHandler<JobKind>, fill: (lane: Lane) => Coalesced): Lane {
  if (!(handler.maxAttempts >= 1)) throw new Error(`job kind ${handler.kind}: maxAttempts must be at least 1`);
  const concurrency = handler.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`job kind ${handler.kind}: concurrency must be a whole number of at least 1`);
  const perGroup = handler.group?.concurrency;
  if (perGroup !== undefined && (!Number.isInteger(perGroup) || perGroup < 1)) throw new Error(`job kind ${handler.kind}: group concurrency must be a whole number of at least 1`);
  const lane = { handler, concurrency, inFlight: new Set(), paused: false, groups: new Map(), wakes: 0, drainedAt: -1 } as Omit<Lane, 'fill'> as Lane;
  (lane as { fill: Coalesced }).fill = fill(lane);
  return lane;
}

/** The job's group (handler.group's payload field), if the kind has groups. */
export function groupOf(lane: Lane, job: ClaimedJob): string | undefined {
  const field = lane.handler.group?.field;
  if (!field) return undefined;
  const value = (job.payload as Record<string, unknown> | null)?.[field];
  return typeof value === 'string' ? value : undefined;
}

/** Whether `job` may start in `lane` now: its group (if any) is below its limit. */
export function hasRoom(lane: Lane, job: ClaimedJob): boolean {
  const group = groupOf(lane, job);
  return group === undefined || (lane.groups.get(group) ?? 0) < lane.handler.group!.concurrency;
}

/** The groups at their limit on this instance: the claim skips their jobs. */
export function fullGroups(lane: Lane): { field: string; values: string[] } | undefined {
  const spec = lane.handler.group;
  if (!spec || lane.groups.size === 0) return undefined;
  const values = [...lane.groups].filter(([, n]) => n >= spec.concurrency).map(([value]) => value);
  return values.length > 0 ? { field: spec.field, values } : undefined;
}
