// Where events are written: the `event` jobs of the queue (emit-event.ts).
import type { Executor } from '../../db/database.js';
import { preparedStatement } from '../../db/prepared.js';
import { writeTogether, type Write } from '../../db/together.js';
import { noteEnqueued } from '../jobs/jobs.repo.js';
import type { EventType } from './event-types.js';

export interface EventJobPayload {
  /** `msg_…`: the Standard Webhooks `webhook-id`, the same on every retry. */
  id: string;
  type: EventType;
  timestamp: string;
  data: unknown;
}

// Nearly every change writes one (a sign-in its session.created): prepared when sent alone.
const insertEventStatement = preparedStatement('insert_event', `
    INSERT INTO jobs (kind, payload, status, finished_at)
    SELECT 'event', $1::jsonb, listened.status,
           CASE WHEN listened.status = 'succeeded' THEN now() END
      FROM (SELECT CASE WHEN EXISTS (
                     SELECT 1 FROM webhook_endpoints
                      WHERE enabled AND receives_events_since <= now()
                        AND (events IS NULL OR $2::text = ANY(events)))
                   THEN 'pending' ELSE 'succeeded' END AS status) AS listened
    RETURNING status`);

/**
 * Writes the event as a job of kind `event`, in one statement. Pending (to be fanned out) when
 * an enabled webhook endpoint subscribes to its type; otherwise already finished ('succeeded':
 * there is no one to deliver it to), so it never costs a claim, and stays on record for as long
 * as the purge keeps finished jobs. The test mirrors lockSubscribedEndpoints (webhooks.repo.ts),
 * which decides at the fan-out; an endpoint whose creation commits while this statement runs
 * may miss the event (it receives the events of the changes that commit after it exists).
 */
export async function insertEvent(db: Executor, event: EventJobPayload): Promise<void> {
  await writeTogether(db, [eventWrite(event)]);
}

/** insertEvent as a Write (db/together.ts), for a change that sends its writes together. */
export function eventWrite(event: EventJobPayload): Write {
  return {
    sql: insertEventStatement.marked,
    parameters: [JSON.stringify(event), event.type],
    returning: true,
    then: async (db, rows) => {
      if (rows[0]?.status === 'pending') await noteEnqueued(db, 'event');
    },
  };
}
