// What a retention rule is, and the registry the one periodic retention run reads (issue 25).
// Each feature declares the rules of its own tables beside its SQL (its repo), and the
// composition root (src/retention-wiring.ts, used by the server and by `keyhold purge`)
// registers them; this module imports no feature module.
import type { Executor } from '../../db/executor.js';
import type { SingleUse, SingleUseTable } from '../../db/single-use.repo.js';
import { addDays } from '../../lib/clock.js';

/** Used or expired single-use rows are kept this long. */
export const SPENT_ROW_DAYS = 1;
/** Sent or failed jobs (emails, webhook deliveries) are kept this long. */
export const FINISHED_JOB_DAYS = 30;

export type Counts = Record<string, number>;

export interface RetentionRule {
  /** What it purges, for people (bench/purge.ts, tests). */
  name: string;
  /** The tables it removes rows from, each with what it removes, in words. */
  rules: Record<string, string>;
  /** One batch (one statement): the rows removed by table, and whether there may be more. */
  batch(db: Executor, now: Date, limit: number): Promise<{ removed: Counts; more: boolean }>;
  /** What all its batches would remove at `now`; without it, a dry run reports its tables as null (not counted). */
  count?(db: Executor, now: Date): Promise<Counts>;
}

export interface RetentionRegistry {
  /** A feature's rules, at wiring time. */
  add(...rules: RetentionRule[]): void;
  /** A table kept forever by configuration: said in the report, purged never. */
  keep(table: string, why: string): void;
  /** The rules in the order they were added (the run takes turns in this order). */
  readonly rules: readonly RetentionRule[];
  /** What each table keeps, in words, including those kept forever. */
  describe(): Record<string, string>;
}

export function createRetentionRegistry(): RetentionRegistry {
  const rules: RetentionRule[] = [];
  const kept: Record<string, string> = {};
  return {
    rules,
    add: (...added) => void rules.push(...added),
    keep: (table, why) => void (kept[table] = why),
    describe: () => Object.assign({}, ...rules.map((rule) => rule.rules), kept),
  };
}

/** A table whose repo deletes one bounded batch before a cut-off and counts the rest. */
export function tableRule(spec: {
  table: string;
  rule: string;
  cutoff: (now: Date) => Date;
  purge: (db: Executor, before: Date, limit: number) => Promise<number>;
  count?: (db: Executor, before: Date) => Promise<number>;
}): RetentionRule {
  const { table, cutoff, purge, count } = spec;
  return {
    name: table,
    rules: { [table]: spec.rule },
    async batch(db, now, limit) {
      const removed = await purge(db, cutoff(now), limit);
      return { removed: { [table]: removed }, more: removed >= limit };
    },
    count: count && (async (db, now) => ({ [table]: await count(db, cutoff(now)) })),
  };
}

/** Finished work (jobs, webhook deliveries): kept FINISHED_JOB_DAYS after it finished. */
export function finishedRule(spec: {
  table: string;
  /** What counts as finished, in words. */
  finished: string;
  purge: (db: Executor, before: Date, limit: number) => Promise<number>;
  count: (db: Executor, before: Date) => Promise<number>;
}): RetentionRule {
  return tableRule({ ...spec, rule: `${spec.finished} over ${FINISHED_JOB_DAYS} days ago`, cutoff: (now) => addDays(now, -FINISHED_JOB_DAYS) });
}

/** A single-use table (db/single-use.repo.ts): rows used or expired over SPENT_ROW_DAYS ago. */
export function spentRowsRule<T extends SingleUseTable>(rows: SingleUse<T>): RetentionRule {
  return tableRule({
    table: rows.table,
    rule: `used or expired over ${SPENT_ROW_DAYS} day ago`,
    cutoff: (now) => addDays(now, -SPENT_ROW_DAYS),
    purge: rows.purge,
    count: rows.count,
  });
}
