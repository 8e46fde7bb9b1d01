// The one way a change announces itself to other services. Call it with the transaction of the
// change (inside inUnitOfWork, db/unit-of-work.ts), so the event commits or rolls back with it and the queue wakes after the commit.
//
// The event is recorded as a finished job of kind `event`, and written with a delivery (and its
// job) for each webhook endpoint subscribed to its type, all in one statement (events.repo.ts).
import { randomUUID } from 'node:crypto';
import type { Executor } from '../../db/database.js';
import type { Clock } from '../../lib/clock.js';
import type { EventPayloads, EventType } from './event-types.js';
import { insertEvent, type EventJobPayload } from './events.repo.js';

export type { EventJobPayload };


declare module '../jobs/jobs.types.js' {
  interface JobPayloads {
    event: EventJobPayload;
  }
}

/** A new event id, `msg_…`: unique, and the webhook-id of its every delivery attempt. */
export const newEventId = (): string => `msg_${randomUUID().replace(/-/g, '')}`;

/** An event to write with eventWrite (events.repo.ts), typed like emitEvent's. */
export function newEvent<T extends EventType>(ctx: { clock: Clock }, type: T, data: EventPayloads[T]): EventJobPayload {
  return { id: newEventId(), type, timestamp: ctx.clock.now().toISOString(), data };
}

/** What emitEvent writes: an event's type and the data that type carries. */
export interface EmittedEvent<T extends EventType> {
  type: T;
  data: EventPayloads[T];
}

export async function emitEvent<T extends EventType>(ctx: { clock: Clock }, trx: Executor, { type, data }: EmittedEvent<T>): Promise<string> {
  const event = newEvent(ctx, type, data);
  await insertEvent(trx, event);
  return event.id;
}
