// `npm run bench` (full, ~4 minutes) or `npm run bench -- --quick` (~1 minute smoke run).
// Starts Keyhold on PostgreSQL and on the embedded database, seeds users and sessions through
// the API, drives each endpoint with autocannon on loopback, and prints one table with the
// machine's own floor beside it. Results: bench/results/<timestamp>.json (git-ignored).
// Options: --db postgres|embedded and --scenario me|refresh|login|register|mix (repeatable),
// --no-build (run the TypeScript source with tsx), --profile (the server writes a .cpuprofile
// into bench/results/profiles/; summarise it with bench/profile-summary.ts), --entry <server.js>
// (benchmark another compiled tree, e.g. a proposed change; the floors then use its lib/ too),
// --pg-set name=value (a PostgreSQL setting for the bench database, e.g. synchronous_commit=off).
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { loadConfig, type Config } from '../src/config.js';
import { ADMIN_URL, createBenchDatabase, postgresPidsFor, type BenchDatabase, type DatabaseKind } from './databases.js';
import {
  benchTokenService,
  loadServerLib,
  meanOf,
  measureArgon2Floor,
  embeddedLookupFloor,
  postgresLookupFloor,
  type Argon2Floor,
  type LookupFloor,
} from './floor.js';
import { runLoad, type Meters } from './load.js';
import { checkTargets, endpointResult, formatTable, formatTargets, writeReport, type BenchReport, type DatabaseReport, type EndpointResult } from './report.js';
import { SCENARIO_LABELS, scenarioRequests, usesRefreshPool, type ScenarioName, type ScenarioState } from './scenarios.js';
import { seed } from './seed.js';
import { BENCH_SERVER_ENV, customEntry, prepareServer, REPO_ROOT, startServer, type RunningServer, type ServerEntry } from './server.js';
import { COUNTING_NOTE, countStatements } from './statement-count.js';
import { RefreshTokenPool } from './token-pool.js';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    db: { type: 'string', multiple: true },
    'no-build': { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    scenario: { type: 'string', multiple: true },
    entry: { type: 'string' },
    'pg-set': { type: 'string', multiple: true },
  },
});

const QUICK = args.quick;
// Seeding is argon2-bound (one hash per user, one verify per session), so the refresh pool is
// a few hundred sessions; it never runs dry because every rotation puts its successor back.
const PLAN = QUICK
  ? { warmupSeconds: 1, measureSeconds: 2, floorSeconds: 1, users: 16, sessionsPerUser: 2, countRequests: 3, deadlineMinutes: 4 }
  : { warmupSeconds: 3, measureSeconds: 10, floorSeconds: 3, users: 80, sessionsPerUser: 2, countRequests: 10, deadlineMinutes: 8 };
const WIDE = QUICK ? 16 : 32;
const CONNECTIONS: Record<ScenarioName, number> = { me: WIDE, refresh: WIDE, login: 8, register: 8, mix: WIDE };
const SCENARIOS = (args.scenario ?? ['me', 'refresh', 'login', 'register', 'mix']) as ScenarioName[];
const DATABASES = (args.db ?? ['postgres', 'embedded']) as DatabaseKind[];
const PG_SETTINGS = Object.fromEntries((args['pg-set'] ?? []).map((pair) => [pair.split('=')[0]!, pair.slice(pair.indexOf('=') + 1)]));
for (const name of SCENARIOS) if (!(name in CONNECTIONS)) throw new Error(`unknown --scenario ${name}`);
for (const name of DATABASES) if (name !== 'postgres' && name !== 'embedded') throw new Error(`unknown --db ${name}`);

const SERVER_ENV = BENCH_SERVER_ENV;

// Whatever happens, the bench ends: servers are stopped and databases dropped.
const cleanups = new Set<() => Promise<void>>();
async function cleanUp(): Promise<void> {
  for (const cleanup of [...cleanups].reverse()) await cleanup().catch(() => {});
  cleanups.clear();
}
const deadline = setTimeout(() => {
  process.stderr.write(`bench: still running after ${PLAN.deadlineMinutes} minutes; stopping\n`);
  void cleanUp().finally(() => process.exit(2));
}, PLAN.deadlineMinutes * 60_000);
deadline.unref();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void cleanUp().finally(() => process.exit(130)));
}

const log = (message: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
};

async function main(): Promise<void> {
  const startedAt = new Date();
  const entry: ServerEntry = args.entry ? customEntry(args.entry) : await prepareServer({ build: !args['no-build'] });
  if (entry.buildError) log(`tsc build failed, running the source with tsx instead:\n${entry.buildError}`);
  log(`server: ${entry.label}`);

  const config = loadConfig({ ...process.env, ...SERVER_ENV });

  const report: BenchReport = {
    startedAt: startedAt.toISOString(),
    mode: QUICK ? 'quick' : 'full',
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', node: process.version, loadAverageAtStart: loadavg() },
    server: entry.label,
    durations: { warmupSeconds: PLAN.warmupSeconds, measureSeconds: PLAN.measureSeconds },
    databases: [],
  };
  for (const kind of DATABASES) report.databases.push(await benchDatabase(kind, entry, config));

  report.finishedAt = new Date().toISOString();
  report.targets = checkTargets(report);
  const file = writeReport(join(REPO_ROOT, 'bench', 'results'), report);
  const minutes = (Date.now() - startedAt.getTime()) / 60_000;
  process.stdout.write(`\n${formatTable(report)}\n\n${formatTargets(report.targets)}\n(${COUNTING_NOTE})\n\nwritten: ${file} (${minutes.toFixed(1)} minutes)\n`);
}

async function benchDatabase(kind: DatabaseKind, entry: ServerEntry, config: Readonly<Config>): Promise<DatabaseReport> {
  log(`${kind}: creating the database`);
  const database = await createBenchDatabase(kind, ADMIN_URL, PG_SETTINGS);
  const drop = () => database.drop();
  cleanups.add(drop);
  let admin: pg.Client | undefined;
  try {
    if (kind === 'postgres') {
      admin = new pg.Client({ connectionString: ADMIN_URL });
      await admin.connect();
    }
    const postgresPids = admin ? () => postgresPidsFor(admin!, database.name!) : undefined;
    const server = await start(entry, database);
    const seedStarted = performance.now();
    const runId = `${Date.now().toString(36)}${kind[0]}`;
    log(`${kind}: seeding ${PLAN.users} users x ${PLAN.sessionsPerUser} sessions`);
    const seeded = await seed(server.baseUrl, { runId, users: PLAN.users, sessionsPerUser: PLAN.sessionsPerUser, concurrency: 8 });
    const state: ScenarioState = {
      runId,
      users: seeded.users,
      accessTokens: seeded.sessions.map((s) => s.accessToken),
      pool: new RefreshTokenPool(seeded.sessions.map((s) => s.refreshToken)),
    };
    const result: DatabaseReport = {
      database: kind,
      seed: { users: seeded.users.length, sessions: seeded.sessions.length, seconds: (performance.now() - seedStarted) / 1000 },
      endpoints: [],
    };

    const meters: Meters = { serverPid: server.pid, postgresPids };
    const lib = await loadServerLib(entry.libDir);
    const tokens = benchTokenService(lib, config);
    const lookupMeter =
      kind === 'postgres'
        ? postgresLookupFloor({ url: database.url!, poolSize: config.databasePoolSize, tokens, accessToken: state.accessTokens[0]!, postgresPids: postgresPids! })
        : await embeddedLookupFloor(tokens);
    cleanups.add(lookupMeter.close);
    const lookupFloor = (): Promise<LookupFloor> => lookupMeter.measure(PLAN.floorSeconds);
    const argon2Floor = (): Promise<Argon2Floor> => measureArgon2Floor(lib, config.argon2, PLAN.floorSeconds);

    for (const scenario of SCENARIOS) {
      // The floors are measured right before and after the run they are compared with, and
      // averaged, so both see the same background load on the machine.
      const floor = scenario === 'me' ? lookupFloor : scenario === 'login' ? argon2Floor : undefined;
      if (floor) log(`${kind}: floor before ${SCENARIO_LABELS[scenario]}`);
      const before = await floor?.();
      result.endpoints.push(await measure(kind, scenario, server, state, meters));
      if (floor) log(`${kind}: floor after ${SCENARIO_LABELS[scenario]}`);
      const after = await floor?.();
      if (scenario === 'me') result.lookupFloor = meanOf(before as LookupFloor, after as LookupFloor);
      if (scenario === 'login') result.argon2Floor = meanOf(before as Argon2Floor, after as Argon2Floor);
      if (scenario === 'refresh') {
        // Latency at 80% of the capacity just measured: the figure a capacity plan relies on.
        const capacity = result.endpoints.at(-1)!.load.requestsPerSecond;
        result.endpoints.push(await measure(kind, scenario, server, state, meters, Math.max(1, Math.floor(capacity * 0.8))));
      }
    }
    await stop(server);
    cleanups.delete(lookupMeter.close);
    await lookupMeter.close();

    if (kind === 'postgres') {
      log('postgres: counting SQL statements per request');
      result.sqlCounts = await countStatements({ entry, env: { ...SERVER_ENV, ...database.env }, state, requests: PLAN.countRequests });
      for (const row of result.endpoints) {
        const counts = result.sqlCounts[row.scenario];
        if (counts) row.sql = { statementsPerRequest: counts.statements / counts.requests, roundTripsPerRequest: counts.roundTrips / counts.requests };
      }
    }
    return result;
  } finally {
    await admin?.end();
    cleanups.delete(drop);
    await drop();
  }
}

async function start(entry: ServerEntry, database: BenchDatabase): Promise<RunningServer> {
  const nodeFlags = args.profile ? ['--cpu-prof', `--cpu-prof-dir=${join(REPO_ROOT, 'bench', 'results', 'profiles')}`] : [];
  const server = await startServer({ entry, env: { ...SERVER_ENV, ...database.env }, nodeFlags });
  cleanups.add(server.stop);
  return server;
}

async function stop(server: RunningServer): Promise<void> {
  cleanups.delete(server.stop);
  await server.stop();
}

async function measure(
  kind: DatabaseKind,
  scenario: ScenarioName,
  server: RunningServer,
  state: ScenarioState,
  meters: Meters,
  overallRate?: number,
): Promise<EndpointResult> {
  let connections = CONNECTIONS[scenario];
  if (usesRefreshPool(scenario) && state.pool.size < connections * 2) {
    connections = Math.max(1, Math.floor(state.pool.size / 2));
    log(`${kind}: only ${state.pool.size} live refresh tokens; ${SCENARIO_LABELS[scenario]} uses ${connections} connections`);
  }
  const run = async (seconds: number) => {
    const load = await runLoad(
      { url: server.baseUrl, connections, durationSeconds: seconds, overallRate, requests: scenarioRequests(scenario, state) },
      meters,
    );
    if (usesRefreshPool(scenario)) await state.pool.reclaim(server.baseUrl);
    return load;
  };
  const label = SCENARIO_LABELS[scenario];
  if (!overallRate) {
    log(`${kind}: ${label}: warm-up ${PLAN.warmupSeconds} s`);
    await run(PLAN.warmupSeconds);
  }
  log(`${kind}: ${label}${overallRate ? ` at ${overallRate}/s` : ''}: measuring ${PLAN.measureSeconds} s`);
  const load = await run(PLAN.measureSeconds);
  if (load.failures > 0) log(`${kind}: ${label}: ${load.failures} failed requests ${JSON.stringify(load.statusCodes)}\n${server.output()}`);
  return endpointResult(scenario, label, connections, load, overallRate);
}

main()
  .catch(async (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  })
  .finally(async () => {
    await cleanUp();
    clearTimeout(deadline);
  });
