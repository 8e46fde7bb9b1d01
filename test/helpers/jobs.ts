// What the job queue holds, for tests: queued emails (jobs of kind 'email'), flattened.
import { sql } from 'kysely';
import type { Executor } from '../../src/db/database.js';
import type { JobStatus } from '../../src/modules/jobs/jobs.types.js';
import type { EmailJobPayload } from '../../src/modules/email/email-job.js';

export interface QueuedEmail extends EmailJobPayload {
  /** The job id (the message's Message-ID). */
  id: string;
  status: JobStatus;
  attempts: number;
  next_attempt_at: Date;
  last_error: string | null;
  created_at: Date;
  finished_at: Date | null;
}

/** Email jobs, oldest first; `to` matches the recipient exactly, `template` the message kind. */
export async function queuedEmails(
  db: Executor,
  filter: { to?: string; template?: EmailJobPayload['template']; status?: JobStatus } = {},
): Promise<QueuedEmail[]> {
  let query = db.selectFrom('jobs').selectAll().where('kind', '=', 'email');
  if (filter.to !== undefined) query = query.where(sql<string>`payload ->> 'to'`, '=', filter.to);
  if (filter.template !== undefined) query = query.where(sql<string>`payload ->> 'template'`, '=', filter.template);
  if (filter.status !== undefined) query = query.where('status', '=', filter.status);
  const rows = await query.orderBy('created_at').orderBy('id').execute();
  return rows.map(({ payload, kind: _kind, ...job }) => ({ ...(payload as EmailJobPayload), ...job }));
}

/** Polls `probe` every 20 ms until it returns something truthy; fails after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** `db`, but every statement sent through it (as the queue sends them: executeQuery) is kept in
 *  `sent`, in order, on its way to the real database. */
export function countingStatements(db: Executor): { counting: Executor; sent: string[] } {
  const sent: string[] = [];
  const counting = new Proxy(db, {
    get(target, prop) {
      if (prop === 'executeQuery') {
        return (query: { sql: string }) => {
          sent.push(query.sql);
          return target.executeQuery(query as never);
        };
      }
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { counting, sent };
}
