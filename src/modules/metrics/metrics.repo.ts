// What the queue gauges read at scrape time: the job queue (modules/jobs/), by kind.
import { sql } from 'kysely';
import type { Executor } from '../../db/database.js';
import type { QueueStat } from './metrics.js';

/** Pending jobs and the age of the oldest, by kind, by the database's clock (as the queue's
 *  own times are). `kinds` are reported even with nothing pending (0), so their series exist
 *  from the start; any other kind with pending jobs is reported too. One aggregate over the
 *  pending rows (a partial index): cheap enough for every scrape. */
export async function jobQueueStats(db: Executor, kinds: readonly string[] = []): Promise<QueueStat[]> {
  const result = await sql<{ kind: string; pending: number; oldest_age_seconds: number | string | null }>`
    SELECT kind,
           count(*)::int AS pending,
           EXTRACT(EPOCH FROM now() - min(created_at))::float8 AS oldest_age_seconds
      FROM jobs
     WHERE status = 'pending'
     GROUP BY kind
  `.execute(db);
  const stats = new Map<string, QueueStat>(kinds.map((kind) => [kind, { kind, pending: 0, oldestAgeSeconds: 0 }]));
  for (const row of result.rows) {
    stats.set(row.kind, { kind: row.kind, pending: row.pending, oldestAgeSeconds: Math.max(0, Number(row.oldest_age_seconds ?? 0)) });
  }
  return [...stats.values()];
}
