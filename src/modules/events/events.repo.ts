// Where events are written: an `event` job as their record, and their webhook deliveries
// (emit-event.ts).
import type { Executor } from '../../db/database.js';
import { writeTogether, type Write } from '../../db/together.js';
import { handOver, handOverLease, noteEnqueued } from '../jobs/local-queues.js';
import type { EventType } from './event-types.js';
import type { ClaimedJob } from '../jobs/jobs.types.js';

export interface EventJobPayload {
  /** `msg_…`: the Standard Webhooks `webhook-id`, the same on every retry. */
  id: string;
  type: EventType;
  timestamp: string;
  data: unknown;
}

/** The exact JSON body of the event's webhook deliveries: what is signed and sent. */
export const deliveryBody = (event: EventJobPayload): string => JSON.stringify({ type: event.type, timestamp: event.timestamp, data: event.data });

// The enabled endpoints subscribed to the event's type ($2) that receive the events of changes
// made since they were created (both times the database's, migration 0011). Key-share locked,
// as the deliveries' foreign key would lock them anyway: an endpoint deleted or disabled by a
// transaction that commits meanwhile (its pending deliveries given up under its row lock,
// webhooks.service.ts) is read as it is after that commit, so it gets nothing, and the
// statement never fails on a vanished endpoint. (This holds because every change to an endpoint
// row-locks it FOR UPDATE first, as webhooks.service.ts and webhook-jobs.ts do: a plain UPDATE
// would be neither waited for nor seen.)
const subscribed = (type: string, onlyIf = 'true'): string => `FROM webhook_endpoints
      WHERE ${onlyIf} AND enabled AND receives_events_since <= now() AND (events IS NULL OR ${type}::text = ANY(events))
      ORDER BY id
      FOR KEY SHARE`;
const SUBSCRIBED = subscribed('$2');

/**
 * What a delivery is sent with (webhook-jobs.ts): the same as a read of the delivery and its
 * endpoint (webhooks.repo.ts findDeliveryToSend), which a delivery handed over at its commit
 * brings along (ClaimedJob.handedWith) instead of reading it back.
 */
export interface DeliveryToSend {
  delivery: { id: string; endpoint_id: string; event_id: string; body: string; created_at: Date };
  endpoint: { id: string; url: string; secret: string; previous_secret: string | null; previous_secret_expires_at: Date | null };
}

/** The endpoint columns read with a handed-over delivery (all of an endpoint's in DeliveryToSend). */
interface SendingEndpointRow {
  id: string;
  url: string;
  secret: string;
  previous_secret: string | null;
  /** JSON (writeTogether): a timestamp as text. */
  previous_secret_expires_at: string | null;
  /** The deliveries' created_at (now()), as text. */
  delivery_created_at: string;
}

// A delivery's id is derived from the event and the endpoint (unique together), so the two
// independent writes below agree on it without one reading the other's rows.
const DELIVERY_ID = 'md5($1::text || id::text)::uuid';

/**
 * What an event writes, in the change's own transaction and statement (db/together.ts):
 * - its record, a job of kind `event` already finished (the log of events, kept as long as the
 *   purge keeps finished jobs);
 * - for every subscribed endpoint, its delivery and that delivery's `webhook` job.
 * So an event no endpoint subscribes to costs two index probes of an empty set in a statement
 * the change sends anyway, and one that has subscribers costs no fan-out job: no claim, no
 * second transaction (issue 31). The `event` kind's lane still fans out the events queued
 * pending by versions before 0.3 (webhook-jobs.ts).
 */
export function eventWrites(db: Executor, event: EventJobPayload): Write[] {
  // Written claimed, and handed to this process's queue at the commit, when it runs webhooks:
  // the delivery then costs no claim (local-queues.ts). $3: the lease, or NULL (written due).
  const lease = handOverLease(db, 'webhook') ?? null;
  const body = deliveryBody(event);
  let sendingEndpoints: SendingEndpointRow[] = [];
  return [
    {
      sql: `INSERT INTO jobs (kind, payload, status, finished_at) VALUES ('event', $1::jsonb, 'succeeded', now())`,
      parameters: [JSON.stringify(event)],
    },
    {
      sql: `INSERT INTO webhook_deliveries (id, endpoint_id, event_id, type, body)
    SELECT ${DELIVERY_ID}, id, $1::text, $2::text, $3::text ${SUBSCRIBED}`,
      parameters: [event.id, event.type, body],
    },
    // Where deliveries are handed over ($2), what they are sent with, so the queue reads nothing
    // back: the endpoints' address and sealed secrets, and the deliveries' created_at (now():
    // the transaction's start, their column's default). A read, so `returning` (db/together.ts);
    // its `then` runs before the jobs' below, which builds the hand-over from these rows.
    {
      sql: `SELECT id, url, secret, previous_secret, previous_secret_expires_at, now() AS delivery_created_at
    ${subscribed('$1', '$2::boolean')}`,
      parameters: [event.type, lease !== null],
      returning: true,
      then: (_trx, rows) => void (sendingEndpoints = rows as unknown as SendingEndpointRow[]),
    },
    {
      sql: `INSERT INTO jobs (kind, payload, attempts, next_attempt_at)
    SELECT 'webhook', jsonb_build_object('delivery_id', ${DELIVERY_ID}, 'endpoint_id', id),
           CASE WHEN $3::double precision IS NULL THEN 0 ELSE 1 END,
           now() + make_interval(secs => COALESCE($3::double precision, 0)) ${SUBSCRIBED}
    RETURNING id, payload`,
      parameters: [event.id, event.type, lease],
      returning: true,
      then: async (trx, rows) => {
        if (rows.length === 0) return;
        if (lease === null) return noteEnqueued(trx, 'webhook');
        const endpoints = new Map(sendingEndpoints.map((endpoint) => [endpoint.id, endpoint]));
        const jobs = rows.map((row) => {
          const payload = row.payload as { delivery_id: string; endpoint_id: string };
          const endpoint = endpoints.get(payload.endpoint_id);
          const handedWith: DeliveryToSend | undefined = endpoint && {
            delivery: { id: payload.delivery_id, endpoint_id: endpoint.id, event_id: event.id, body, created_at: new Date(endpoint.delivery_created_at) },
            endpoint: {
              id: endpoint.id,
              url: endpoint.url,
              secret: endpoint.secret,
              previous_secret: endpoint.previous_secret,
              previous_secret_expires_at: endpoint.previous_secret_expires_at === null ? null : new Date(endpoint.previous_secret_expires_at),
            },
          };
          return { id: String(row.id), kind: 'webhook', payload, attempt: 1, lastError: null, handedWith } as ClaimedJob;
        });
        await handOver(trx, jobs);
      },
    },
  ];
}

/** An event's writes sent alone (emitEvent): nearly every change writes one (a sign-in its
 *  session.created), so as one prepared statement. */
export async function insertEvent(db: Executor, event: EventJobPayload): Promise<void> {
  await writeTogether(db, eventWrites(db, event), { preparedAs: 'insert_event' });
}
