// The webhooks tables: endpoints and their deliveries (migrations/0007_webhooks.sql).
import { sql, type Selectable } from 'kysely';
import type { Executor } from '../../db/database.js';
import type { WebhookDeliveriesTable, WebhookEndpointsTable } from '../../db/schema.js';
import { preparedStatement } from '../../db/prepared.js';
import type { Write } from '../../db/together.js';
import { finishedRule } from '../retention/retention-rules.js';
import type { DeliveryToSend } from '../events/events.repo.js';

export type EndpointRow = Selectable<WebhookEndpointsTable>;
export type DeliveryRow = Selectable<WebhookDeliveriesTable>;

export async function insertEndpoint(
  db: Executor,
  row: { id: string; url: string; description: string | null; events: string[] | null; secret: string; now: Date },
): Promise<EndpointRow> {
  return db
    .insertInto('webhook_endpoints')
    .values({ id: row.id, url: row.url, description: row.description, events: row.events, secret: row.secret, created_at: row.now, updated_at: row.now })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function listEndpoints(db: Executor): Promise<EndpointRow[]> {
  return db.selectFrom('webhook_endpoints').selectAll().orderBy('created_at').orderBy('id').execute();
}

/** `forUpdate`: row-locked for the rest of the transaction (every change of an endpoint's
 *  deliveries or secret takes this lock first, so they happen one after another). */
export async function findEndpoint(db: Executor, id: string, forUpdate = false): Promise<EndpointRow | undefined> {
  let query = db.selectFrom('webhook_endpoints').selectAll().where('id', '=', id);
  if (forUpdate) query = query.forUpdate();
  return query.executeTakeFirst();
}

export async function updateEndpoint(
  db: Executor,
  id: string,
  changes: Partial<Pick<EndpointRow, 'url' | 'description' | 'events' | 'enabled' | 'secret' | 'previous_secret' | 'previous_secret_expires_at'>> & { updated_at?: Date },
): Promise<EndpointRow> {
  return db.updateTable('webhook_endpoints').set(changes).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
}

export async function deleteEndpoint(db: Executor, id: string): Promise<boolean> {
  const result = await db.deleteFrom('webhook_endpoints').where('id', '=', id).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

// The statements of every event fanned out and every delivery attempt: prepared (db/prepared.ts),
// since parsing and planning them anew cost their backend several times their execution.
const fanOutStatement = preparedStatement<{ n: number }>('fan_out_event', `
    WITH endpoints AS (
      SELECT id FROM webhook_endpoints
       WHERE enabled
         AND receives_events_since <= (SELECT created_at FROM jobs WHERE id = $1)
         AND (events IS NULL OR $2::text = ANY(events))
       ORDER BY id
       FOR SHARE),
    deliveries AS (
      INSERT INTO webhook_deliveries (endpoint_id, event_id, type, body)
      SELECT id, $3::text, $2::text, $4::text FROM endpoints
      ON CONFLICT (endpoint_id, event_id) DO NOTHING
      RETURNING id, endpoint_id),
    queued AS (
      INSERT INTO jobs (kind, payload)
      SELECT 'webhook', jsonb_build_object('delivery_id', id, 'endpoint_id', endpoint_id) FROM deliveries
      RETURNING 1)
    SELECT count(*)::int AS n FROM queued`);

const deliveryToSend = preparedStatement<Pick<DeliveryRow, 'id' | 'endpoint_id' | 'event_id' | 'body' | 'created_at'> & Pick<EndpointRow, 'url' | 'secret' | 'previous_secret' | 'previous_secret_expires_at'>>('delivery_to_send', `
    SELECT d.id, d.endpoint_id, d.event_id, d.body, d.created_at, e.url, e.secret, e.previous_secret, e.previous_secret_expires_at
      FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
     WHERE d.id = $1 AND d.status = 'pending'`);

/** $1 attempts, $2 status, $3 response status, $4 duration, $5 error, $6 attempted at, $7 id. */
const recordAttemptStatement = preparedStatement('record_delivery_attempt', `
    UPDATE webhook_deliveries
       SET attempts = $1::int, status = $2::text, response_status = $3::int, duration_ms = $4::int, error = $5::text,
           last_attempt_at = $6::timestamptz, finished_at = CASE WHEN $2::text = 'pending' THEN NULL ELSE now() END
     WHERE id = $7 AND status = 'pending'`);

/**
 * The fan-out of event job `eventJobId`, in one statement: a delivery row and its `webhook` job
 * for every enabled endpoint subscribed to the type that receives events queued when the job
 * was (an endpoint gets the events queued from its creation on, never a backlog that was still
 * waiting when it was added; both times are the database's, migration 0011). The endpoints are
 * share-locked: an endpoint being disabled meanwhile (its pending deliveries given up under
 * its row lock) is read as it is after that commits, so it gets nothing new. An endpoint that
 * already has the event (a retried fan-out) gets nothing twice. Returns how many were queued.
 * (The jobs are written here, not by jobs.repo's enqueue, to keep the fan-out one statement.)
 */
export async function fanOutEvent(
  db: Executor,
  eventJobId: string,
  event: { id: string; type: string; body: string },
): Promise<number> {
  const rows = await fanOutStatement(db, [eventJobId, event.type, event.id, event.body]);
  return rows[0]?.n ?? 0;
}

/** A pending delivery with what sending it needs of its endpoint (one read). */
export async function findDeliveryToSend(db: Executor, id: string): Promise<DeliveryToSend | undefined> {
  const [row] = await deliveryToSend(db, [id]);
  if (!row) return undefined;
  return {
    delivery: { id: row.id, endpoint_id: row.endpoint_id, event_id: row.event_id, body: row.body, created_at: row.created_at },
    endpoint: { id: row.endpoint_id, url: row.url, secret: row.secret, previous_secret: row.previous_secret, previous_secret_expires_at: row.previous_secret_expires_at },
  };
}

/** A new pending delivery; undefined when the endpoint already has this event (a retried fan-out). */
export async function insertDelivery(
  db: Executor,
  row: { endpointId: string; eventId: string; type: string; body: string },
): Promise<string | undefined> {
  const inserted = await db
    .insertInto('webhook_deliveries')
    .values({ endpoint_id: row.endpointId, event_id: row.eventId, type: row.type, body: row.body })
    .onConflict((oc) => oc.columns(['endpoint_id', 'event_id']).doNothing())
    .returning('id')
    .executeTakeFirst();
  return inserted?.id;
}

export async function findDelivery(db: Executor, id: string): Promise<DeliveryRow | undefined> {
  return db.selectFrom('webhook_deliveries').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Whether a delivery to the endpoint succeeded at or after `since` (the database's clock). */
export async function deliveredSince(db: Executor, endpointId: string, since: Date): Promise<boolean> {
  const row = await db
    .selectFrom('webhook_deliveries')
    .select('id')
    .where('endpoint_id', '=', endpointId)
    .where('status', '=', 'succeeded')
    .where('finished_at', '>=', since)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/** Records one attempt: still pending (a retry follows), succeeded or failed (given up). */
export interface DeliveryAttempt {
  number: number;
  status: 'pending' | 'succeeded' | 'failed';
  responseStatus: number | null;
  durationMs: number;
  error: string | null;
  at: Date;
}

const attemptParameters = (id: string, attempt: DeliveryAttempt): unknown[] => [attempt.number, attempt.status, attempt.responseStatus, attempt.durationMs, attempt.error, attempt.at, id];

export async function recordAttempt(db: Executor, id: string, attempt: DeliveryAttempt): Promise<void> {
  await recordAttemptStatement(db, attemptParameters(id, attempt));
}

/** recordAttempt as a Write: a successful attempt is recorded with its job's success (JobSuccess). */
export function recordAttemptWrite(id: string, attempt: DeliveryAttempt): Write {
  return { sql: recordAttemptStatement.marked, parameters: attemptParameters(id, attempt) };
}

/** Gives up every pending delivery of an endpoint (it was disabled); returns how many. */
export async function failPendingDeliveries(db: Executor, endpointId: string, error: string): Promise<number> {
  const result = await db
    .updateTable('webhook_deliveries')
    .set({ status: 'failed', error, finished_at: sql<Date>`now()` })
    .where('endpoint_id', '=', endpointId)
    .where('status', '=', 'pending')
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** The delivery log, newest first, paged with limit/offset. */
export async function listDeliveries(db: Executor, endpointId: string, page: { limit: number; offset: number }): Promise<DeliveryRow[]> {
  return db
    .selectFrom('webhook_deliveries')
    .selectAll()
    .where('endpoint_id', '=', endpointId)
    .orderBy('seq', 'desc')
    .limit(page.limit)
    .offset(page.offset)
    .execute();
}

/** Retention: deletes up to `limit` finished deliveries that finished before `before`. */
export async function purgeFinishedDeliveries(db: Executor, before: Date, limit: number): Promise<number> {
  const result = await sql`
    DELETE FROM webhook_deliveries
     WHERE id IN (SELECT id FROM webhook_deliveries
                   WHERE status <> 'pending' AND finished_at < ${before}
                   LIMIT ${limit} FOR UPDATE SKIP LOCKED)
  `.execute(db);
  return Number(result.numAffectedRows ?? 0n);
}

export async function countFinishedDeliveries(db: Executor, before: Date): Promise<number> {
  const result = await sql<{ n: number }>`
    SELECT count(*)::int AS n FROM webhook_deliveries WHERE status <> 'pending' AND finished_at < ${before}
  `.execute(db);
  return result.rows[0]?.n ?? 0;
}

/** Retention (modules/retention): finished deliveries after 30 days. */
export const finishedDeliveryRetention = finishedRule({ table: 'webhook_deliveries', finished: 'finished (succeeded or failed)', purge: purgeFinishedDeliveries, count: countFinishedDeliveries });
