// Delivers queued email. Placeholder until the delivery worker lands (issue 3): messages
// stay in the outbox and are logged.
import type { AppContext } from '../../context.js';

export interface OutboxWorker {
  start(): void;
  /** Wake the worker now (after a commit that queued mail). */
  notify(): void;
  /** Finish the message in flight, then stop. */
  stop(): Promise<void>;
}

export function createOutboxWorker(_deps: Pick<AppContext, 'db' | 'config' | 'clock' | 'log'>): OutboxWorker {
  return { start() {}, notify() {}, async stop() {} };
}
