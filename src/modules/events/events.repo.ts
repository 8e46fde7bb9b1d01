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
// statement never fails on a vanished endpoint.
const SUBSCRIBED = `FROM webhook_endpoints
      WHERE enabled AND receives_events_since <= now() AND (events IS NULL OR $2::text = ANY(events))
      ORDER BY id
      FOR KEY SHARE`;

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
  return [
    {
      sql: `INSERT INTO jobs (kind, payload, status, finished_at) VALUES ('event', $1::jsonb, 'succeeded', now())`,
      parameters: [JSON.stringify(event)],
    },
    {
      sql: `INSERT INTO webhook_deliveries (id, endpoint_id, event_id, type, body)
    SELECT ${DELIVERY_ID}, id, $1::text, $2::text, $3::text ${SUBSCRIBED}`,
      parameters: [event.id, event.type, deliveryBody(event)],
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
        const jobs = rows.map((row) => ({ id: String(row.id), kind: 'webhook', payload: row.payload, attempt: 1, lastError: null }) as ClaimedJob);
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
