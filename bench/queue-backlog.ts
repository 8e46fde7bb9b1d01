// The job queue under a backlog (issue 31), on PostgreSQL: what an empty claim and a sign-in
// cost the database with an empty queue, then with 100,000 parked emails (queued without
// SMTP_URL, or during an SMTP outage) and 1,000,000 finished jobs.
//
//   npx tsx bench/queue-backlog.ts [--emails 100000] [--finished 1000000] [--logins 150] [--entry <server.js>]
//
// - Empty claim: the `event` lane's claim (claimDueJob, the queue's own code) with no event due,
//   20,000 times on one connection: that backend's CPU (/proc) per claim, protocol and planning
//   included; and EXPLAIN (ANALYZE, BUFFERS) of one: execution time and buffers read.
//   For comparison, the claim of 0.2 (one index on next_attempt_at for every kind, the kind
//   filtered afterwards) is explained on the same rows, inside a transaction rolled back.
// - Sign-in: POST /auth/login/json one at a time through a server on the same database, with
//   no webhook endpoint and then with one subscribed to session.created (a receiver on
//   loopback): CPU of the database's backends (and WAL writer etc.) per login, after the queue
//   has settled, including the queue work each sign-in causes.
// Targets: an empty claim under 0.1 ms of PostgreSQL CPU and within 1.2x from empty to backlog;
// at most 2 ms of PostgreSQL CPU per login, with and without an endpoint.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import pg from 'pg';
import { loadConfig } from '../src/config.js';
import { openDatabase, type Db } from '../src/db/database.js';
import { claimDueJob } from '../src/modules/jobs/jobs.repo.js';
import { ADMIN_URL, createBenchDatabase, postgresPidsFor } from './databases.js';
import { cpuBetween, processCpuSeconds, snapshot } from './proc-cpu.js';
import { BENCH_PASSWORD, login, register } from './seed.js';
import { BENCH_SERVER_ENV, customEntry, prepareServer, startServer } from './server.js';

const { values: args } = parseArgs({
  options: {
    emails: { type: 'string', default: '100000' },
    finished: { type: 'string', default: '1000000' },
    logins: { type: 'string', default: '150' },
    entry: { type: 'string' },
  },
});
const EMAILS = Number(args.emails);
const FINISHED = Number(args.finished);
const LOGINS = Number(args.logins);
// /proc counts CPU in 10 ms ticks: a claim costs tens of µs prepared, so thousands are timed.
const CLAIMS = 20_000;
const ADMIN_EMAIL = 'bench-admin@example.com';

const log = (message: string): void => void process.stderr.write(`[queue-backlog] ${message}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Figures {
  claimCpuMs: number;
  explain: { executionMs: number; buffers: number };
  loginPgMs: number;
  loginWithEndpointPgMs?: number;
}

/** The claim statement of 0.2, for the comparison (its index is made in a rolled-back transaction). */
const CLAIM_02 = `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)
  SELECT id FROM jobs WHERE status = 'pending' AND next_attempt_at <= now() AND kind = ANY('{event}'::text[])
   ORDER BY next_attempt_at, created_at LIMIT 1 FOR UPDATE SKIP LOCKED`;
const CLAIM_NOW = `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)
  SELECT id FROM jobs WHERE kind = 'event' AND status = 'pending' AND next_attempt_at <= now()
   ORDER BY next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED`;

function readExplain(rows: Array<Record<string, unknown>>): { executionMs: number; buffers: number } {
  const plan = (rows[0]!['QUERY PLAN'] as Array<Record<string, any>>)[0]!;
  const top = plan.Plan as Record<string, number>;
  return { executionMs: plan['Execution Time'] as number, buffers: (top['Shared Hit Blocks'] ?? 0) + (top['Shared Read Blocks'] ?? 0) };
}

/** The median of `runs` EXPLAIN ANALYZE executions (the first warms the cache). */
async function explainClaim(client: pg.Client, text: string, runs = 21): Promise<{ executionMs: number; buffers: number }> {
  const results = [];
  for (let i = 0; i < runs; i++) results.push(readExplain((await client.query(text)).rows));
  results.sort((a, b) => a.executionMs - b.executionMs);
  return results[Math.floor(runs / 2)]!;
}

async function emptyClaimCpuMs(db: Db): Promise<number> {
  await claimDueJob(db, { kind: 'event', leaseSeconds: 60 }); // warm: plan cached, pages in memory
  // One connection (poolSize 1): its backend does every claim.
  const { rows } = await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(db);
  const pid = rows[0]!.pid;
  const before = processCpuSeconds(pid)!;
  for (let i = 0; i < CLAIMS; i++) if ((await claimDueJob(db, { kind: 'event', leaseSeconds: 60 })).job) throw new Error('an event job was due: the claim is not empty');
  return ((processCpuSeconds(pid)! - before) / CLAIMS) * 1000;
}

async function loginPgMs(baseUrl: string, admin: pg.Client, database: string, user: { email: string; password: string }): Promise<number> {
  await login(baseUrl, user); // warm
  await sleep(1500); // the queue settles: what earlier requests queued is done
  const before = snapshot(await postgresPidsFor(admin, database));
  for (let i = 0; i < LOGINS; i++) await login(baseUrl, user);
  await sleep(1500); // the queue work these sign-ins caused (session.created) is theirs
  return (cpuBetween(before, snapshot(await postgresPidsFor(admin, database))) / LOGINS) * 1000;
}

async function main(): Promise<void> {
  const database = await createBenchDatabase('postgres', ADMIN_URL);
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  const receiver = createServer((req, res) => req.resume().on('end', () => res.writeHead(204).end()));
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  const entry = args.entry ? customEntry(args.entry) : await prepareServer({ build: true });
  const server = await startServer({
    entry,
    env: {
      ...BENCH_SERVER_ENV,
      ...database.env,
      WEBHOOK_ALLOW_INSECURE_URLS: 'true',
      BOOTSTRAP_ADMIN_EMAIL: ADMIN_EMAIL,
      BOOTSTRAP_ADMIN_PASSWORD: BENCH_PASSWORD,
    },
  });
  const config = loadConfig({ ...database.env, LOG_LEVEL: 'silent' });
  const handle = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolSize: 1 });
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    const user = { email: 'bench-backlog@example.com', password: BENCH_PASSWORD };
    await register(server.baseUrl, user);
    const adminToken = ((await login(server.baseUrl, { email: ADMIN_EMAIL, password: BENCH_PASSWORD })).accessToken);

    const measure = async (label: string): Promise<Figures> => {
      log(`${label}: empty claims, EXPLAIN, sign-ins`);
      const figures: Figures = {
        claimCpuMs: await emptyClaimCpuMs(handle.db),
        explain: await explainClaim(client, CLAIM_NOW),
        loginPgMs: await loginPgMs(server.baseUrl, admin, database.name!, user),
      };
      const created = await fetch(`${server.baseUrl}/api/v1/admin/webhooks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` },
        body: JSON.stringify({ url: receiverUrl, events: ['session.created'] }),
      });
      if (created.status !== 201) throw new Error(`webhook endpoint: ${created.status} ${await created.text()}`);
      const { id } = (await created.json()) as { id: string };
      figures.loginWithEndpointPgMs = await loginPgMs(server.baseUrl, admin, database.name!, user);
      await fetch(`${server.baseUrl}/api/v1/admin/webhooks/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${adminToken}` } });
      return figures;
    };

    const empty = await measure('empty queue');
    log(`seeding ${EMAILS} parked emails and ${FINISHED} finished jobs`);
    await client.query(
      `INSERT INTO jobs (kind, payload, last_error, created_at, next_attempt_at)
       SELECT 'email', jsonb_build_object('template', 'verify_email', 'to', 'parked' || i || '@example.com', 'subject', 'Verify', 'text', 'hello', 'html', null),
              'not sent: SMTP_URL is not set', now() - interval '1 hour', now() - interval '1 hour'
         FROM generate_series(1, $1::int) AS i`,
      [EMAILS],
    );
    await client.query(
      `INSERT INTO jobs (kind, payload, status, attempts, created_at, next_attempt_at, finished_at)
       SELECT (ARRAY['event', 'webhook', 'email'])[1 + i % 3], jsonb_build_object('n', i), 'succeeded', 1,
              now() - interval '2 days', now() - interval '2 days', now() - make_interval(secs => i % 86400)
         FROM generate_series(1, $1::int) AS i`,
      [FINISHED],
    );
    await client.query('VACUUM ANALYZE jobs');
    const backlog = await measure('backlog');

    // 0.2's claim on the same rows: its index in a transaction that is rolled back.
    await client.query('BEGIN');
    await client.query('DROP INDEX jobs_due_idx');
    await client.query(`CREATE INDEX jobs_due_02 ON jobs (next_attempt_at) WHERE status = 'pending'`);
    const old = await explainClaim(client, CLAIM_02);
    await client.query('ROLLBACK');

    const ms = (n: number) => n.toFixed(3).padStart(8);
    const lines = [
      '',
      `Job queue under a backlog (${EMAILS.toLocaleString('en')} parked emails, ${FINISHED.toLocaleString('en')} finished jobs), PostgreSQL, ${new Date().toISOString()}`,
      `                                          empty queue    backlog   ratio`,
      `empty claim, backend CPU ms (${CLAIMS} claims)  ${ms(empty.claimCpuMs)}   ${ms(backlog.claimCpuMs)}   x${(backlog.claimCpuMs / empty.claimCpuMs).toFixed(2)}`,
      `empty claim, EXPLAIN ANALYZE ms (median)  ${ms(empty.explain.executionMs)}   ${ms(backlog.explain.executionMs)}   x${(backlog.explain.executionMs / empty.explain.executionMs).toFixed(2)}`,
      `empty claim, buffers                      ${String(empty.explain.buffers).padStart(8)}   ${String(backlog.explain.buffers).padStart(8)}`,
      `sign-in, PostgreSQL CPU ms per login      ${ms(empty.loginPgMs)}   ${ms(backlog.loginPgMs)}`,
      `  with a session.created endpoint         ${ms(empty.loginWithEndpointPgMs!)}   ${ms(backlog.loginWithEndpointPgMs!)}`,
      `0.2's claim (next_attempt_at index, kind filtered after) on the backlog: EXPLAIN ANALYZE ${old.executionMs.toFixed(3)} ms, ${old.buffers} buffers`,
      `targets: empty claim < 0.1 ms and within 1.2x; sign-in <= 2 ms of PostgreSQL CPU, with and without an endpoint`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await client.end().catch(() => {});
    await handle.close().catch(() => {});
    await server.stop().catch(() => {});
    await admin.end().catch(() => {});
    receiver.close();
    await database.drop().catch(() => {});
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`queue-backlog failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
