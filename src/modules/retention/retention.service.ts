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
//
// Each feature's repo holds its purge (one bounded batch: one short statement that skips rows
// another transaction holds, FOR UPDATE SKIP LOCKED) and a count for dry runs. This module runs
// the batches, one purge after another in turn, until each is done or the time budget is spent,
// and counts the rows per table. Nothing here holds a lock between batches.
import type { AppContext } from '../../context.js';
import type { Executor } from '../../db/database.js';
import { addDays, addSeconds } from '../../lib/clock.js';
import { countAuditLogs, purgeAuditLogs } from '../audit/audit.repo.js';
import { verificationTokens } from '../auth/email-verification.repo.js';
import { countFinishedJobs, purgeFinishedJobs } from '../jobs/jobs.repo.js';
import { mfaChallenges } from '../mfa/mfa.repo.js';
import { oauthStates } from '../oauth/oauth.repo.js';
import { webauthnChallenges } from '../passkeys/passkeys.repo.js';
import { resetTokens } from '../passwords/passwords.repo.js';
import { samlAssertions, ssoCodes, ssoFlows } from '../sso/sso.repo.js';
import {
  countExpiredRefreshFamilies,
  countRevokedSessions,
  purgeExpiredRefreshFamilies,
  purgeRevokedSessions,
  type FamilyPurge,
} from '../sessions/sessions.repo.js';
import type { SingleUse, SingleUseTable } from '../../db/single-use.repo.js';
import { countExpiredModels, purgeExpiredModels } from '../oidc-provider/oidc-models.repo.js';
import { countFinishedDeliveries, purgeFinishedDeliveries } from '../webhooks/webhooks.repo.js';

/**
 * A family goes once its newest token expired this long ago, not at the very second: another
 * instance whose clock runs a little behind this one's must not still accept a token of it.
 */
export const EXPIRY_MARGIN_SECONDS = 300;
/** Revoked sessions are kept this long after revocation. */
export const REVOKED_SESSION_DAYS = 30;
/** Used or expired single-use rows are kept this long. */
export const SPENT_ROW_DAYS = 1;
/** Sent or failed jobs (emails, webhook deliveries) are kept this long. */
export const FINISHED_JOB_DAYS = 30;
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

// Used or expired single-use rows: one line per table (its repo declares it with singleUse, db/single-use.repo.ts).
const SPENT_ROWS: readonly SingleUse<SingleUseTable>[] = [
  resetTokens,
  verificationTokens,
  oauthStates,
  mfaChallenges,
  webauthnChallenges,
  ssoFlows,
  ssoCodes,
  samlAssertions,
];

type Counts = Record<string, number>;
/** A dry run's count: null for a table whose repo has no count. */
type DryCounts = Record<string, number | null>;

interface Purge {
  /** What it purges, for people (bench/purge.ts, tests). */
  name: string;
  /** The tables it removes rows from, each with what it removes, in words. */
  rules: Record<string, string>;
  /** One batch (one statement): the rows removed by table, and whether there may be more. */
  batch(db: Executor, now: Date, limit: number): Promise<{ removed: Counts; more: boolean }>;
  /** What all its batches would remove at `now`; without it, a dry run reports its tables as null (not counted). */
  count?(db: Executor, now: Date): Promise<Counts>;
}

const expiredBy = (now: Date): Date => addSeconds(now, -EXPIRY_MARGIN_SECONDS);
const families = (p: FamilyPurge) => ({ removed: { refresh_tokens: p.refreshTokens, sessions: p.sessions }, more: p.more });
const asCounts = (c: { refreshTokens: number; sessions: number }): Counts => ({ refresh_tokens: c.refreshTokens, sessions: c.sessions });

/** One purge of a table whose repo deletes a batch and returns the count. */
function simplePurge(
  table: string,
  rule: string,
  cutoff: (now: Date) => Date,
  purge: (db: Executor, before: Date, limit: number) => Promise<number>,
  count: ((db: Executor, before: Date) => Promise<number>) | undefined,
): Purge {
  return {
    name: table,
    rules: { [table]: rule },
    async batch(db, now, limit) {
      const removed = await purge(db, cutoff(now), limit);
      return { removed: { [table]: removed }, more: removed >= limit };
    },
    count: count && (async (db, now) => ({ [table]: await count(db, cutoff(now)) })),
  };
}

function purges(config: AppContext['config']): Purge[] {
  const list: Purge[] = [
    {
      name: 'expired refresh-token families',
      rules: {
        refresh_tokens: `every token of a session whose newest token has expired (over ${EXPIRY_MARGIN_SECONDS / 60} minutes ago), or that was revoked over ${REVOKED_SESSION_DAYS} days ago`,
        sessions: `gone with their last token if never revoked; revoked ones over ${REVOKED_SESSION_DAYS} days ago`,
      },
      batch: async (db, now, limit) => families(await purgeExpiredRefreshFamilies(db, expiredBy(now), limit)),
      count: async (db, now) => asCounts(await countExpiredRefreshFamilies(db, expiredBy(now))),
    },
    {
      name: 'revoked sessions',
      rules: {},
      batch: async (db, now, limit) => families(await purgeRevokedSessions(db, addDays(now, -REVOKED_SESSION_DAYS), limit)),
      count: async (db, now) => asCounts(await countRevokedSessions(db, addDays(now, -REVOKED_SESSION_DAYS), expiredBy(now))),
    },
    ...SPENT_ROWS.map((spent) =>
      simplePurge(
        spent.table,
        `used or expired over ${SPENT_ROW_DAYS} day ago`,
        (now) => addDays(now, -SPENT_ROW_DAYS),
        spent.purge,
        spent.count,
      ),
    ),
  ];
  if (config.auditRetentionDays > 0) {
    const days = config.auditRetentionDays;
    list.push(simplePurge('audit_logs', `older than ${days} days`, (now) => addDays(now, -days), purgeAuditLogs, countAuditLogs));
  }
  list.push(
    simplePurge('jobs', `finished (sent or failed) over ${FINISHED_JOB_DAYS} days ago`, (now) => addDays(now, -FINISHED_JOB_DAYS), purgeFinishedJobs, countFinishedJobs),
    simplePurge('oidc_models', `the OpenID Provider's codes, tokens, sessions and requests expired over ${SPENT_ROW_DAYS} day ago`, (now) => addDays(now, -SPENT_ROW_DAYS), purgeExpiredModels, countExpiredModels),
    simplePurge('webhook_deliveries', `finished (succeeded or failed) over ${FINISHED_JOB_DAYS} days ago`, (now) => addDays(now, -FINISHED_JOB_DAYS), purgeFinishedDeliveries, countFinishedDeliveries),
  );
  return list;
}

/** What each table keeps, in words, including those kept forever by configuration. */
function describeRules(config: AppContext['config'], list: Purge[]): Record<string, string> {
  const rules: Record<string, string> = Object.assign({}, ...list.map((p) => p.rules));
  if (config.auditRetentionDays === 0) rules.audit_logs = 'kept forever (AUDIT_RETENTION_DAYS=0)';
  return rules;
}

export type RetentionDeps = Pick<AppContext, 'db' | 'clock' | 'config'> & Partial<Pick<AppContext, 'metrics'>>;

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
  const list = purges(deps.config);
  const rules = describeRules(deps.config, list);
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
      const next: Purge[] = [];
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
  ctx: Pick<AppContext, 'db' | 'clock' | 'config' | 'metrics' | 'log'>,
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
