// Retention: every table that grows with traffic is purged, so none grows without bound.
//
//   refresh_tokens, sessions   a session's tokens once its newest token has expired (never
//                              earlier: reuse detection needs them; 5 minutes after, for clock
//                              skew between instances), with the session unless it was
//                              revoked; revoked sessions 30 days after revocation, with any
//                              tokens left
//   single-use rows            reset and verification tokens, OAuth states, MFA and passkey
//                              challenges, SSO requests and codes: 1 day after they were used
//                              or expired; the SAML replay store (sso_assertions) 1 day after
//                              its assertion could no longer be accepted
//   audit_logs                 after AUDIT_RETENTION_DAYS (0: kept forever)
//   oidc_models                the OpenID Provider's rows, 1 day after they expired
//   jobs                       sent or failed (emails, webhook deliveries) after 30 days
//   webhook_deliveries         finished after 30 days
//   ui_sessions                the hosted pages' sign-ins once their cookie expired or their
//                              session ended (with the hosted pages on)
//
// Each feature declares the rules of its own tables beside its SQL (one bounded batch: one short
// statement that skips rows another transaction holds, FOR UPDATE SKIP LOCKED, and a count for
// dry runs) and registers them (retention-rules.ts; src/retention-wiring.ts wires them). This
// module runs the registered batches, one rule after another in turn, until each is done or the
// time budget is spent, and counts the rows per table. Nothing here holds a lock between
// batches, and nothing here imports a feature module, nor the AppContext (context.ts, which
// holds the registry, is above this module: the run takes the narrow RetentionDeps).
import type { FastifyBaseLogger } from 'fastify';
import type { Db } from '../../db/database.js';
import type { Clock } from '../../lib/clock.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Counts, RetentionRegistry, RetentionRule } from './retention-rules.js';

export { FINISHED_JOB_DAYS, SPENT_ROW_DAYS } from './retention-rules.js';

/**
 * Rows per batch (per statement), chosen with bench/purge.ts (500,000 expired refresh tokens
 * and 440,000 other rows, PostgreSQL, 2 vCPUs): at 1,000 the longest batch took 49–58 ms with
 * the machine otherwise quiet (75,000–93,000 rows/s), 62–76 ms at a load average of 3; at
 * 2,000, 66–72 ms quiet (117,000 rows/s) but 99–140 ms at a load of 3. The embedded database
 * stays under 90 ms at 1,000. A refresh-family batch removes at most this many older tokens,
 * plus the newest token (and session) of at most this many families.
 */
export const DEFAULT_BATCH_SIZE = 1000;
/** How long one periodic run (every RETENTION_INTERVAL_SECONDS, hourly by default) may go on before leaving the rest to the next. */
export const PERIODIC_TIME_BUDGET_MS = 60 * 1000;

/** A dry run's count: null for a table whose rule has no count. */
type DryCounts = Record<string, number | null>;

/** What a run needs (the AppContext fits): the rules, the database, the clock, and the metrics when there are some. */
export interface RetentionDeps {
  db: Db;
  clock: Clock;
  metrics?: Metrics;
  retention: RetentionRegistry;
}

export interface RetentionOptions {
  /** Count what would go; delete nothing. */
  dryRun?: boolean;
  /** Rows per batch; default DEFAULT_BATCH_SIZE. */
  batchSize?: number;
  /** Stop starting batches after this long (the next run goes on); default: until done. */
  timeBudgetMs?: number;
  /** Aborted (the instance is stopping): no further batch starts; the report says incomplete. */
  signal?: AbortSignal;
  /** Called after each batch (tests, bench/purge.ts). */
  onBatch?: (batch: { purge: string; removed: Counts; ms: number }) => void;
}

export interface RetentionReport {
  dryRun: boolean;
  /** Rows removed (a dry run: that would be; null where not counted), by table. */
  removed: DryCounts;
  /** What is removed from each table, in words. */
  rules: Record<string, string>;
  /** Every purge ran to its end; false when the time budget ran out first. */
  complete: boolean;
  batches: number;
  /** The longest single batch: how long it held its locks. */
  longestBatchMs: number;
  elapsedMs: number;
}

/**
 * Purges everything due at this moment, in bounded batches. The purges take turns, one batch
 * each, so a large backlog in one table does not hold back the others.
 */
export async function purgeExpiredRows(deps: RetentionDeps, options: RetentionOptions = {}): Promise<RetentionReport> {
  const started = performance.now();
  const now = deps.clock.now();
  const list = deps.retention.rules;
  const rules = deps.retention.describe();
  const removed: DryCounts = Object.fromEntries(Object.keys(rules).map((table) => [table, 0]));
  const report: RetentionReport = { dryRun: options.dryRun === true, removed, rules, complete: true, batches: 0, longestBatchMs: 0, elapsedMs: 0 };

  if (options.dryRun) {
    for (const purge of list) {
      if (purge.count) add(removed, await purge.count(deps.db, now));
      else {
        for (const table of Object.keys(purge.rules)) {
          removed[table] = null;
          rules[table] = `${rules[table]} (a dry run cannot count these yet)`;
        }
      }
    }
  } else {
    const limit = options.batchSize ?? DEFAULT_BATCH_SIZE;
    if (!Number.isInteger(limit) || limit < 1) throw new Error('batchSize must be a positive whole number');
    const budget = options.timeBudgetMs ?? Infinity;
    let pending = list;
    while (pending.length > 0) {
      const next: RetentionRule[] = [];
      for (const purge of pending) {
        if (performance.now() - started >= budget || options.signal?.aborted) {
          report.complete = false;
          next.length = 0;
          break;
        }
        const batchStarted = performance.now();
        const batch = await purge.batch(deps.db, now, limit);
        const ms = performance.now() - batchStarted;
        report.batches += 1;
        report.longestBatchMs = Math.max(report.longestBatchMs, ms);
        add(removed, batch.removed);
        for (const [table, n] of Object.entries(batch.removed)) deps.metrics?.purgedRows.inc(table, n);
        options.onBatch?.({ purge: purge.name, removed: batch.removed, ms });
        if (batch.more) next.push(purge);
      }
      pending = next;
    }
  }
  report.elapsedMs = performance.now() - started;
  return report;
}

function add(total: DryCounts, counts: Counts): void {
  for (const [table, n] of Object.entries(counts)) total[table] = (total[table] ?? 0) + n;
}

/**
 * The periodic run (hourly by default: RETENTION_INTERVAL_SECONDS), at most PERIODIC_TIME_BUDGET_MS of
 * batches; what is left waits for the next run. Logs what it removed.
 */
export async function runRetention(
  ctx: RetentionDeps & { metrics: Metrics; log: FastifyBaseLogger },
  signal?: AbortSignal,
): Promise<RetentionReport> {
  const report = await purgeExpiredRows(ctx, { timeBudgetMs: PERIODIC_TIME_BUDGET_MS, signal });
  const total = Object.values(report.removed).reduce<number>((sum, n) => sum + (n ?? 0), 0);
  if (total > 0 || !report.complete) {
    ctx.log.info(
      { purged: report.removed, complete: report.complete, batches: report.batches, longest_batch_ms: Math.round(report.longestBatchMs) },
      'retention: purged expired rows',
    );
  }
  return report;
}
