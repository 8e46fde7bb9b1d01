// Retention purge throughput and lock-hold bound (src/modules/retention), on PostgreSQL (or embedded).
//
//   npx tsx bench/purge.ts [--tokens 500000] [--batch-size 1000[,2000,…]] [--db postgres|embedded]
//
// For each batch size: a throw-away database on TEST_DATABASE_URL / BENCH_DATABASE_URL's server
// (loopback only, as bench/databases.ts), or with `--db embedded` a temporary embedded one,
// migrated, then seeded with INSERT … SELECT generate_series:
//   - `--tokens` expired refresh tokens in dead families (a tenth in sessions that never refreshed,
//     half in families of 10, the rest in families of 100), a tenth of those sessions revoked
//     within the last 30 days (the session row stays);
//   - what must stay: 10,000 live families of 20 tokens (half already past their own expiry, the
//     newest valid), and recent single-use and audit rows;
//   - other expired rows: revoked sessions older than 30 days, spent reset / verification tokens
//     and OAuth states, old audit events, finished jobs;
// then VACUUM ANALYZE (as autovacuum would have), one purge run (purgeExpiredRows, the same code
// as `keyhold purge` and the hourly run), and a check that exactly the expired rows went.
// Prints rows/s per purge and overall, and the longest single batch: each batch is one
// statement, so that is the longest any row lock was held. Targets: ≥ 50,000 rows/s, no batch
// over 100 ms. Figures, not a test: the machine's other load moves them.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import pg from 'pg';
import { loadConfig } from '../src/config.js';
import { openDatabase, type Executor } from '../src/db/database.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { systemClock } from '../src/lib/clock.js';
import { DEFAULT_BATCH_SIZE, purgeExpiredRows } from '../src/modules/retention/retention.service.js';
import { retentionRules } from '../src/retention-wiring.js';
import { ADMIN_URL, createBenchDatabase, postgresPidsFor } from './databases.js';
import { cpuBetween, snapshot } from './proc-cpu.js';

const { values: args } = parseArgs({
  options: {
    tokens: { type: 'string', default: '500000' },
    'batch-size': { type: 'string', default: String(DEFAULT_BATCH_SIZE) },
    db: { type: 'string', default: 'postgres' },
  },
});
const KIND = args.db;
if (KIND !== 'postgres' && KIND !== 'embedded') throw new Error('--db must be postgres or embedded');
const TOKENS = Number(args.tokens);
const BATCH_SIZES = args['batch-size']!.split(',').map(Number);
if (!Number.isInteger(TOKENS) || TOKENS < 1000) throw new Error('--tokens must be a whole number of at least 1000');
if (BATCH_SIZES.some((n) => !Number.isInteger(n) || n < 1)) throw new Error('--batch-size must be whole numbers, comma-separated');

const USER_ID = '00000000-0000-4000-8000-000000000002';
const LIVE_FAMILIES = 10_000;
const LIVE_FAMILY_TOKENS = 20;
const OTHER_ROWS = 50_000;

/** One family shape: `sessions` sessions of `tokens` tokens each, their uuids derived from `tag`. */
interface Families {
  tag: string;
  sessions: number;
  tokens: number;
  /** SQL: when the newest token of session i expires (i is 1…sessions). */
  newestExpiry: string;
  /** SQL: when session i was revoked, or NULL. */
  revokedAt: string;
}

function familiesSql(f: Families): string[] {
  const sessionId = `md5('${f.tag}:' || i)::uuid`;
  const tokenId = (j: string) => `md5('${f.tag}:' || i || ':' || ${j})::uuid`;
  // Token j of n is issued (n - j) hours before the newest; each lasts 7 days.
  const issued = `(${f.newestExpiry}) - interval '7 days' - (${f.tokens} - j) * interval '1 hour'`;
  return [
    `INSERT INTO sessions (id, user_id, created_at, revoked_at)
     SELECT ${sessionId}, '${USER_ID}', (${f.newestExpiry}) - interval '8 days', ${f.revokedAt}
       FROM generate_series(1, ${f.sessions}) i`,
    `INSERT INTO refresh_tokens (id, token_hash, user_id, session_id, parent_id, replaced_by_id, issued_at, expires_at, revoked_at)
     SELECT ${tokenId('j')}, md5('${f.tag}:' || i || ':' || j || ':hash'), '${USER_ID}', ${sessionId},
            CASE WHEN j > 1 THEN ${tokenId('(j - 1)')} END,
            CASE WHEN j < ${f.tokens} THEN ${tokenId('(j + 1)')} END,
            ${issued}, ${issued} + interval '7 days',
            CASE WHEN j < ${f.tokens} THEN ${issued} + interval '1 hour' ELSE ${f.revokedAt} END
       FROM generate_series(1, ${f.sessions}) i, generate_series(1, ${f.tokens}) j`,
  ];
}

interface Expected {
  /** Rows the purge must remove, by table. */
  removed: Record<string, number>;
  /** Rows that must remain, by table. */
  kept: Record<string, number>;
}

async function seed(db: Executor): Promise<Expected> {
  const singles = Math.round(TOKENS / 10);
  const tens = Math.round(TOKENS / 2 / 10);
  const hundreds = Math.floor((TOKENS - singles - tens * 10) / 100);
  const singlesTotal = TOKENS - tens * 10 - hundreds * 100;
  // Dead families' newest tokens expired 1 to 20 days ago; a tenth of the sessions revoked then.
  const dead = (tag: string, sessions: number, tokens: number): Families => ({
    tag,
    sessions,
    tokens,
    newestExpiry: `now() - (1 + i % 20) * interval '1 day'`,
    revokedAt: `CASE WHEN i % 10 = 0 THEN now() - (1 + i % 20) * interval '1 day' - interval '1 hour' END`,
  });
  const revokedRecent = (n: number) => Math.floor(n / 10);
  const statements = [
    `INSERT INTO accounts (id, name, display_code) VALUES ('00000000-0000-4000-8000-000000000001', 'Bench', 'BENCH000')`,
    `INSERT INTO users (id, email, name, account_id, account_role)
     VALUES ('${USER_ID}', 'bench@example.com', 'Bench', '00000000-0000-4000-8000-000000000001', 'owner')`,
    ...familiesSql(dead('single', singlesTotal, 1)),
    ...familiesSql(dead('ten', tens, 10)),
    ...familiesSql(dead('hundred', hundreds, 100)),
    // Live: the newest token expires in 1 to 10 hours; the older half are past their own expiry.
    ...familiesSql({
      tag: 'live',
      sessions: LIVE_FAMILIES,
      tokens: LIVE_FAMILY_TOKENS,
      newestExpiry: `now() + (1 + i % 10) * interval '1 hour'`,
      revokedAt: 'NULL',
    }),
    // Revoked over 30 days ago, their tokens long gone.
    `INSERT INTO sessions (id, user_id, created_at, revoked_at)
     SELECT md5('old-revoked:' || i)::uuid, '${USER_ID}', now() - interval '60 days', now() - interval '31 days' - i * interval '1 minute'
       FROM generate_series(1, ${OTHER_ROWS}) i`,
    // Single-use rows: a fifth still usable, the rest used or expired over a day ago.
    ...(['password_reset_tokens', 'email_verification_tokens'] as const).map(
      (table) => `INSERT INTO ${table} (token_hash, user_id, ${table === 'email_verification_tokens' ? 'email, ' : ''}expires_at, used_at)
       SELECT md5('${table}:' || i), '${USER_ID}', ${table === 'email_verification_tokens' ? `'bench@example.com', ` : ''}
              CASE WHEN i % 5 = 0 THEN now() + interval '1 hour' ELSE now() - interval '2 days' + (i % 2) * interval '1 hour' END,
              CASE WHEN i % 5 <> 0 AND i % 2 = 0 THEN now() - interval '3 days' END
         FROM generate_series(1, ${OTHER_ROWS}) i`,
    ),
    `INSERT INTO oauth_states (state_hash, provider, code_verifier, nonce, redirect_uri, expires_at, used_at)
     SELECT md5('state:' || i), 'google', 'verifier', 'nonce', 'https://app.example.com/cb',
            CASE WHEN i % 5 = 0 THEN now() + interval '10 minutes' ELSE now() - interval '2 days' END,
            CASE WHEN i % 5 <> 0 AND i % 2 = 0 THEN now() - interval '2 days' - interval '5 minutes' END
       FROM generate_series(1, ${OTHER_ROWS}) i`,
    // Audit: four fifths older than AUDIT_RETENTION_DAYS (365).
    `INSERT INTO audit_logs (created_at, user_id, action, details)
     SELECT CASE WHEN i % 5 = 0 THEN now() - interval '1 day' ELSE now() - interval '400 days' END, '${USER_ID}', 'auth.login', '{}'
       FROM generate_series(1, ${OTHER_ROWS * 4}) i`,
    // Jobs: four fifths finished over 30 days ago.
    `INSERT INTO jobs (kind, payload, status, created_at, finished_at)
     SELECT 'email', '{}', 'succeeded', now() - interval '40 days',
            CASE WHEN i % 5 = 0 THEN now() - interval '1 day' ELSE now() - interval '31 days' END
       FROM generate_series(1, ${OTHER_ROWS}) i`,
  ];
  for (const statement of statements) await sql.raw(statement).execute(db);
  const deadSessions = singlesTotal + tens + hundreds;
  const spent = OTHER_ROWS - OTHER_ROWS / 5;
  return {
    removed: {
      refresh_tokens: TOKENS,
      sessions: deadSessions - (revokedRecent(singlesTotal) + revokedRecent(tens) + revokedRecent(hundreds)) + OTHER_ROWS,
      password_reset_tokens: spent,
      email_verification_tokens: spent,
      oauth_states: spent,
      audit_logs: OTHER_ROWS * 4 - (OTHER_ROWS * 4) / 5,
      jobs: spent,
    },
    kept: {
      refresh_tokens: LIVE_FAMILIES * LIVE_FAMILY_TOKENS,
      sessions: LIVE_FAMILIES + revokedRecent(singlesTotal) + revokedRecent(tens) + revokedRecent(hundreds),
      password_reset_tokens: OTHER_ROWS / 5,
      email_verification_tokens: OTHER_ROWS / 5,
      oauth_states: OTHER_ROWS / 5,
      audit_logs: (OTHER_ROWS * 4) / 5,
      jobs: OTHER_ROWS / 5,
    },
  };
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

async function runOnce(batchSize: number): Promise<void> {
  const database = await createBenchDatabase(KIND as 'postgres' | 'embedded', ADMIN_URL);
  try {
    const config = loadConfig({ ...database.env, LOG_LEVEL: 'silent' });
    const handle = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolSize: 2 });
    try {
      await migrateToLatest(handle.db);
      const seedStarted = performance.now();
      const expected = await seed(handle.db);
      await sql`VACUUM ANALYZE`.execute(handle.db);
      process.stdout.write(`\n${KIND}, batch size ${fmt(batchSize)}: seeded in ${((performance.now() - seedStarted) / 1000).toFixed(1)} s\n`);

      // PostgreSQL's CPU for the run (its backends, WAL writer, checkpointer): the figure that
      // holds when other work shares the machine, unlike the wall-clock durations.
      // (Embedded: the database runs in this process, so this process's CPU.)
      const admin = KIND === 'postgres' ? new pg.Client({ connectionString: ADMIN_URL }) : undefined;
      await admin?.connect();
      const pids = admin ? await postgresPidsFor(admin, database.name!) : [process.pid];
      const cpuBefore = snapshot(pids);
      const loadBefore = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
      const perPurge = new Map<string, { rows: number; ms: number[] }>();
      let slowest = { purge: '', removed: {} as Record<string, number>, ms: 0 };
      const report = await purgeExpiredRows(
        { db: handle.db, clock: systemClock, retention: retentionRules(config) },
        {
          batchSize,
          onBatch: ({ purge, removed, ms }) => {
            const entry = perPurge.get(purge) ?? { rows: 0, ms: [] };
            entry.rows += Object.values(removed).reduce((sum, n) => sum + n, 0);
            entry.ms.push(ms);
            perPurge.set(purge, entry);
            if (ms > slowest.ms) slowest = { purge, removed, ms };
          },
        },
      );

      const pgCpuSeconds = cpuBetween(cpuBefore, snapshot(admin ? await postgresPidsFor(admin, database.name!) : [process.pid]));
      await admin?.end();
      const loadAfter = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
      const lines = [['purge', 'rows', 'batches', 'rows/s', 'p50 ms', 'p95 ms', 'max ms']];
      for (const [purge, { rows, ms }] of perPurge) {
        const sorted = [...ms].sort((a, b) => a - b);
        const total = ms.reduce((sum, n) => sum + n, 0);
        lines.push([purge, fmt(rows), fmt(ms.length), fmt(rows / (total / 1000)), percentile(sorted, 0.5).toFixed(1), percentile(sorted, 0.95).toFixed(1), sorted.at(-1)!.toFixed(1)]);
      }
      const totalRows = Object.values(report.removed).reduce<number>((sum, n) => sum + (n ?? 0), 0);
      lines.push(['all', fmt(totalRows), fmt(report.batches), fmt(totalRows / (report.elapsedMs / 1000)), '', '', report.longestBatchMs.toFixed(1)]);
      const widths = lines[0]!.map((_, i) => Math.max(...lines.map((line) => line[i]!.length)));
      for (const line of lines) process.stdout.write(`${line.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ')}\n`);
      process.stdout.write(
        `${fmt(totalRows)} rows in ${(report.elapsedMs / 1000).toFixed(2)} s: ${fmt(totalRows / (report.elapsedMs / 1000))} rows/s; ` +
          `longest batch ${report.longestBatchMs.toFixed(1)} ms (targets: ≥ 50,000 rows/s, ≤ 100 ms)\n` +
          `${admin ? 'PostgreSQL' : 'process (database included)'} CPU ${pgCpuSeconds.toFixed(2)} s: ${fmt(totalRows / pgCpuSeconds)} rows per CPU-second; ` +
          `load average ${loadBefore} before, ${loadAfter} after (2 vCPUs)\n` +
          `the longest: ${slowest.purge}, removing ${Object.entries(slowest.removed).map(([table, n]) => `${fmt(n)} ${table}`).join(' and ')}\n`,
      );

      // Exactly the expired rows went.
      const problems: string[] = [];
      for (const [table, n] of Object.entries(expected.removed)) {
        if (report.removed[table] !== n) problems.push(`${table}: removed ${report.removed[table]}, expected ${n}`);
      }
      for (const [table, n] of Object.entries(expected.kept)) {
        const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM ${sql.table(table)}`.execute(handle.db);
        if (rows[0]!.n !== n) problems.push(`${table}: ${rows[0]!.n} rows left, expected ${n}`);
      }
      if (problems.length > 0) throw new Error(`the purge removed the wrong rows:\n  ${problems.join('\n  ')}`);
      process.stdout.write('check: exactly the expired rows were removed\n');
    } finally {
      await handle.close();
    }
  } finally {
    await database.drop();
  }
}

for (const batchSize of BATCH_SIZES) await runOnce(batchSize);
