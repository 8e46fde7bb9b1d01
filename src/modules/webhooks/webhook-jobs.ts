// Webhooks on the job queue. An event's deliveries, and a `webhook` job for each, are written
// by the change that emits it, in its transaction and statement (events.repo.ts eventWrites).
//
// - `webhook`: one attempt at one delivery. Every delivery has a job of its own and retries on
//   its own schedule: a receiver that keeps refusing one event still receives the events after
//   it (no head-of-line blocking; receivers order by `timestamp`).
//   The job's attempt number is the delivery's: the queue's retry schedule (stepSchedule),
//   leases and restarts apply per delivery as they do for email. An instance runs at most
//   `perEndpointConcurrency` deliveries of one endpoint at once (the queue's job groups), so a
//   slow receiver never takes every slot.
//
// - `event`: the fan-out of an event that a version before 0.3 queued pending (one statement
//   writes a delivery row and its job for every subscribed endpoint, webhooks.repo.ts
//   fanOutEvent). Events are no longer queued so; the lane drains what an upgrade finds.
//
// Every attempt carries the event's `msg_…` id as `webhook-id`. A delivery that exhausts the
// schedule (about 3 days) is given up; if nothing was delivered to its endpoint since that
// delivery was created, the endpoint has been failing for 3 days and is disabled, with an audit
// event.
import type { AppContext } from '../../context.js';
import type { Executor } from '../../db/database.js';
import { recordAudit } from '../audit/audit.repo.js';
import type { EventJobPayload } from '../events/emit-event.js';
import { deliveryBody, type DeliveryToSend } from '../events/events.repo.js';
import { stepSchedule } from '../jobs/job-queue.js';
import { enqueue } from '../jobs/jobs.repo.js';
import { PermanentJobError } from '../jobs/jobs.types.js';
import {
  deliveredSince,
  failPendingDeliveries,
  fanOutEvent,
  findDeliveryToSend,
  findEndpoint,
  insertDelivery,
  recordAttempt,
  recordAttemptWrite,
  updateEndpoint,
  type EndpointRow,
} from './webhooks.repo.js';
import { createWebhookSender, type WebhookSender } from './webhook-sender.js';
import { systemResolver, type Resolver } from './url-guard.js';

declare module '../jobs/jobs.types.js' {
  interface JobPayloads {
    /** endpoint_id groups the jobs (per-endpoint concurrency); jobs queued before 0.3 may lack it. */
    webhook: { delivery_id: string; endpoint_id?: string };
  }
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
/** The contract's schedule: after about 5 s, 1 min, 5 min, 30 min, 2 h, 6 h, then every 12 h. */
export const RETRY_DELAYS_MS = [5 * SECOND, MINUTE, 5 * MINUTE, 30 * MINUTE, 2 * HOUR, 6 * HOUR, 12 * HOUR] as const;
/** For up to 3 days: then the delivery is given up and its endpoint disabled. */
export const GIVE_UP_AFTER_MS = 72 * HOUR;
export const TIMEOUT_MS = 10 * SECOND;

export interface WebhookDeliveryOptions {
  /** Delays between attempts; the last repeats. */
  retryDelaysMs: readonly number[];
  /** No retry is scheduled later than this after the first attempt. */
  giveUpAfterMs: number;
  /** An attempt without a 2xx answer within this fails. */
  timeoutMs: number;
  /** A delivery claimed by an instance that died is retried this long after the claim. */
  leaseSeconds: number;
  /** Deliveries run at once on one instance. */
  concurrency: number;
  /** Of those, at most this many to one endpoint. */
  perEndpointConcurrency: number;
  resolver: Resolver;
}

export const DEFAULT_DELIVERY_OPTIONS: WebhookDeliveryOptions = {
  retryDelaysMs: RETRY_DELAYS_MS,
  giveUpAfterMs: GIVE_UP_AFTER_MS,
  timeoutMs: TIMEOUT_MS,
  leaseSeconds: 60,
  concurrency: 8,
  perEndpointConcurrency: 4,
  resolver: systemResolver,
};

/** Attempts in all: the first, then each retry whose (nominal) time is within giveUpAfterMs.
 *  The default schedule: 12 attempts, the last about 68.6 hours after the first. */
export function maxAttempts(delaysMs: readonly number[], giveUpAfterMs: number): number {
  let attempts = 1;
  let elapsed = 0;
  for (;;) {
    elapsed += delaysMs[Math.min(attempts, delaysMs.length) - 1]!;
    if (elapsed > giveUpAfterMs) return attempts;
    attempts += 1;
  }
}

export const DISABLED_ERROR = 'Endpoint disabled';

type Deps = Pick<AppContext, 'db' | 'config' | 'log' | 'metrics' | 'secrets' | 'clock'>;

/**
 * Queues `event` for one endpoint: the delivery row and its job. False when the endpoint
 * already has this event (a retried fan-out).
 */
export async function queueDelivery(trx: Executor, endpoint: Pick<EndpointRow, 'id'>, event: EventJobPayload): Promise<boolean> {
  const deliveryId = await insertDelivery(trx, { endpointId: endpoint.id, eventId: event.id, type: event.type, body: deliveryBody(event) });
  if (!deliveryId) return false;
  await enqueue(trx, 'webhook', { delivery_id: deliveryId, endpoint_id: endpoint.id });
  return true;
}

/** Ends an endpoint's deliveries (disabled by an admin, or by failing for 3 days). Endpoint
 *  row-locked. Their jobs find them no longer pending and end; but one handed over with its
 *  data in the second before (events.repo.ts) is still sent, once. */
export async function stopDeliveries(trx: Executor, endpointId: string, reason: string): Promise<void> {
  await failPendingDeliveries(trx, endpointId, reason);
}

/** The secret box purpose of an endpoint's secrets (current and previous: the same row's). */
export const secretPurpose = (endpointId: string): string => `webhook-secret:${endpointId}`;

/** The secrets that sign now: the current one, and the previous one during its grace period. */
export function signingSecrets(
  deps: Pick<AppContext, 'secrets'>,
  endpoint: Pick<EndpointRow, 'id' | 'secret' | 'previous_secret' | 'previous_secret_expires_at'>,
  now: Date,
): string[] {
  const secrets = [deps.secrets.open(endpoint.secret, secretPurpose(endpoint.id))];
  if (endpoint.previous_secret && endpoint.previous_secret_expires_at && endpoint.previous_secret_expires_at > now) {
    secrets.push(deps.secrets.open(endpoint.previous_secret, secretPurpose(endpoint.id)));
  }
  return secrets;
}

export function registerWebhookJobs(queue: AppContext['jobs'], deps: Deps, options: Partial<WebhookDeliveryOptions> = {}): void {
  const settings = { ...DEFAULT_DELIVERY_OPTIONS, ...options };
  const attemptsAllowed = maxAttempts(settings.retryDelaysMs, settings.giveUpAfterMs);
  const sender: WebhookSender = createWebhookSender({
    timeoutMs: settings.timeoutMs,
    allowInsecure: deps.config.webhookAllowInsecureUrls,
    resolver: settings.resolver,
  });
  const { db, log, metrics } = deps;
  queue.register({
    kind: 'event',
    // Only database work: a failure is the database's, retried at the poll interval.
    maxAttempts: 50,
    retryDelayMs: stepSchedule([deps.config.outboxPollIntervalMs, 10 * SECOND, MINUTE]),
    leaseSeconds: 60,
    // Deliveries are not ordered (receivers order by timestamp); one fan-out at a time is plenty.
    concurrency: 1,
    enqueues: ['webhook'],
    async run(job) {
      const event = job.payload;
      await fanOutEvent(db, job.id, { id: event.id, type: event.type, body: deliveryBody(event) });
    },
    describe: (payload) => ({ event: payload.type, eventId: payload.id }),
  });
  queue.register({
    kind: 'webhook',
    maxAttempts: attemptsAllowed,
    retryDelayMs: stepSchedule(settings.retryDelaysMs),
    leaseSeconds: settings.leaseSeconds,
    // A slow receiver holds one of these slots for up to timeoutMs, never the other kinds'; and
    // at most perEndpointConcurrency of them, never the other endpoints'.
    concurrency: settings.concurrency,
    group: { field: 'endpoint_id', concurrency: settings.perEndpointConcurrency },
    // The delivery's row is the record (its status, attempts, last response): the job of a
    // delivered one is deleted with the attempt's record, not kept for the purge.
    forgetOnSuccess: true,
    async run(job) {
      // Handed over by the change that wrote it, with what it is sent with (events.repo.ts);
      // else read: gone (its endpoint deleted) or no longer pending (given up with its disabled
      // endpoint), it is not sent.
      const found = (job.handedWith as DeliveryToSend | undefined) ?? (await findDeliveryToSend(db, job.payload.delivery_id));
      if (!found) return;
      const { delivery, endpoint } = found;

      const now = deps.clock.now();
      const attempt = await sender.send(endpoint.url, {
        id: delivery.event_id,
        body: delivery.body,
        secrets: signingSecrets(deps, endpoint, now),
        // The wire timestamp is the real time of the attempt: receivers check it against theirs.
        now: new Date(),
      });
      const last = !attempt.ok && job.attempt >= attemptsAllowed;
      const status = attempt.ok ? 'succeeded' : last ? 'failed' : 'pending';
      const recorded = { number: job.attempt, status, responseStatus: attempt.status, durationMs: attempt.durationMs, error: attempt.error, at: now } as const;
      let disabled = false;
      if (status === 'succeeded') {
        metrics.webhookDeliveries.inc('sent');
        // Recorded in the same statement as the job's success.
        return { recordWith: recordAttemptWrite(delivery.id, recorded) };
      }
      if (status === 'pending') {
        await recordAttempt(db, delivery.id, recorded);
      } else {
        await db.transaction().execute(async (trx) => {
          const locked = await findEndpoint(trx, endpoint.id, true);
          await recordAttempt(trx, delivery.id, recorded);
          // Given up. The endpoint is failing for 3 days only if nothing reached it since this
          // delivery was created: a receiver refusing one event type keeps its endpoint.
          if (!locked?.enabled || (await deliveredSince(trx, locked.id, delivery.created_at))) return;
          disabled = true;
          await updateEndpoint(trx, locked.id, { enabled: false, updated_at: now });
          await stopDeliveries(trx, locked.id, DISABLED_ERROR);
          await recordAudit(trx, null, {
            action: 'webhook.endpoint_disabled',
            resourceType: 'webhook_endpoint',
            resourceId: locked.id,
            details: { url: locked.url, reason: 'failing for 3 days', last_error: attempt.error },
          });
        });
      }
      metrics.webhookDeliveries.inc(last ? 'failed' : 'retry');
      if (disabled) log.warn({ webhook: { endpoint: endpoint.id } }, 'webhook endpoint disabled after failing for 3 days');
      throw last ? new PermanentJobError(attempt.error ?? 'failed') : new Error(attempt.error ?? 'failed');
    },
    describe: (payload) => ({ delivery: payload.delivery_id }),
    close: () => sender.close(),
  });
}
