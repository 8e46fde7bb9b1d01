// A/B comparison of two compiled servers that holds up on a busy machine: both run at once
// (each on its own fresh database), and short bursts of load alternate between them in ABBA
// order, so background load from elsewhere falls on both alike. Prints CPU per request of
// each and the ratio.
//   npx tsx bench/compare.ts --candidate <dir>/dist/server.js [--base <server.js>]
//        [--scenario me|refresh|login|register|mix ...] [--rounds 8] [--burst 1.5] [--db postgres|embedded]
//        [--base-env NAME=VALUE ...] [--candidate-env NAME=VALUE ...]   (e.g. JWT_ALGORITHM=ES256)
import { parseArgs } from 'node:util';
import pg from 'pg';
import { ADMIN_URL, createBenchDatabase, postgresPidsFor, type BenchDatabase, type DatabaseKind } from './databases.js';
import { runLoad, type LoadResult, type Meters } from './load.js';
import { SCENARIO_LABELS, scenarioRequests, usesRefreshPool, type ScenarioName, type ScenarioState } from './scenarios.js';
import { seed } from './seed.js';
import { BENCH_SERVER_ENV, customEntry, prepareServer, startServer, type RunningServer, type ServerEntry } from './server.js';
import { RefreshTokenPool } from './token-pool.js';

const { values: args } = parseArgs({
  options: {
    base: { type: 'string' },
    candidate: { type: 'string' },
    scenario: { type: 'string', multiple: true },
    rounds: { type: 'string', default: '8' },
    burst: { type: 'string', default: '1.5' },
    db: { type: 'string', default: 'postgres' },
    'base-env': { type: 'string', multiple: true },
    'candidate-env': { type: 'string', multiple: true },
  },
});
if (!args.candidate) throw new Error('--candidate <server.js> is required');
const SCENARIOS = (args.scenario ?? ['me', 'refresh']) as ScenarioName[];
const ROUNDS = Number(args.rounds);
const BURST_SECONDS = Number(args.burst);
const KIND = args.db as DatabaseKind;
const CONNECTIONS: Record<ScenarioName, number> = { me: 32, refresh: 32, login: 8, register: 8, mix: 32 };

/** NAME=VALUE pairs from the command line, added to one server's environment. */
const envPairs = (pairs: string[] | undefined): Record<string, string> =>
  Object.fromEntries((pairs ?? []).map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]));

interface Variant {
  name: string;
  env?: Record<string, string>;
  entry: ServerEntry;
  database?: BenchDatabase;
  server?: RunningServer;
  admin?: pg.Client;
  state?: ScenarioState;
  meters?: Meters;
}

const log = (message: string): void => void process.stderr.write(`[compare] ${message}\n`);

async function setUp(variant: Variant): Promise<void> {
  variant.database = await createBenchDatabase(KIND, ADMIN_URL);
  if (KIND === 'postgres') {
    variant.admin = new pg.Client({ connectionString: ADMIN_URL });
    await variant.admin.connect();
  }
  variant.server = await startServer({ entry: variant.entry, env: { ...BENCH_SERVER_ENV, ...variant.database.env, ...variant.env } });
  const runId = `${Date.now().toString(36)}${variant.name}`;
  const seeded = await seed(variant.server.baseUrl, { runId, users: 40, sessionsPerUser: 2, concurrency: 8 });
  variant.state = {
    runId,
    users: seeded.users,
    accessTokens: seeded.sessions.map((s) => s.accessToken),
    pool: new RefreshTokenPool(seeded.sessions.map((s) => s.refreshToken)),
  };
  const { admin, database } = variant;
  variant.meters = { serverPid: variant.server.pid, postgresPids: admin ? () => postgresPidsFor(admin, database.name!) : undefined };
}

async function tearDown(variant: Variant): Promise<void> {
  await variant.server?.stop().catch(() => {});
  await variant.admin?.end().catch(() => {});
  await variant.database?.drop().catch(() => {});
}

async function burst(variant: Variant, scenario: ScenarioName, seconds: number): Promise<LoadResult> {
  const load = await runLoad(
    {
      url: variant.server!.baseUrl,
      connections: CONNECTIONS[scenario],
      durationSeconds: seconds,
      requests: scenarioRequests(scenario, variant.state!),
    },
    variant.meters!,
  );
  if (usesRefreshPool(scenario)) await variant.state!.pool.reclaim(variant.server!.baseUrl);
  return load;
}

interface Totals {
  ok: number;
  wall: number;
  server: number;
  postgres: number;
  failures: number;
}

const add = (t: Totals, r: LoadResult): void => {
  t.ok += r.ok;
  t.wall += r.wallSeconds;
  t.server += r.serverCpuSeconds;
  t.postgres += r.postgresCpuSeconds ?? 0;
  t.failures += r.failures;
};

async function main(): Promise<void> {
  const base: Variant = {
    name: 'a',
    entry: args.base ? customEntry(args.base) : await prepareServer({ build: true }),
    env: envPairs(args['base-env']),
  };
  const candidate: Variant = { name: 'b', entry: customEntry(args.candidate!), env: envPairs(args['candidate-env']) };
  const deadline = setTimeout(() => {
    log('still running after 10 minutes; stopping');
    void Promise.all([tearDown(base), tearDown(candidate)]).finally(() => process.exit(2));
  }, 10 * 60_000);
  deadline.unref();
  try {
    log(`base ${base.entry.label}; candidate ${candidate.entry.label}; ${KIND}`);
    await Promise.all([setUp(base), setUp(candidate)]);
    const lines: string[] = [];
    for (const scenario of SCENARIOS) {
      log(`${SCENARIO_LABELS[scenario]}: warm-up, then ${ROUNDS} ABBA rounds of ${BURST_SECONDS} s bursts`);
      await burst(base, scenario, 2);
      await burst(candidate, scenario, 2);
      const totals = new Map<Variant, Totals>([
        [base, { ok: 0, wall: 0, server: 0, postgres: 0, failures: 0 }],
        [candidate, { ok: 0, wall: 0, server: 0, postgres: 0, failures: 0 }],
      ]);
      for (let round = 0; round < ROUNDS; round++) {
        const order = round % 2 === 0 ? [base, candidate] : [candidate, base];
        for (const variant of order) add(totals.get(variant)!, await burst(variant, scenario, BURST_SECONDS));
      }
      const a = totals.get(base)!;
      const b = totals.get(candidate)!;
      const us = (seconds: number, t: Totals) => (seconds / t.ok) * 1e6;
      lines.push(
        `${SCENARIO_LABELS[scenario].padEnd(32)} server us/req ${us(a.server, a).toFixed(0).padStart(6)} -> ${us(b.server, b).toFixed(0).padStart(6)}` +
          `  (x${(us(b.server, b) / us(a.server, a)).toFixed(2)})` +
          (KIND === 'postgres' ? `   pg us/req ${us(a.postgres, a).toFixed(0)} -> ${us(b.postgres, b).toFixed(0)}` : '') +
          `   req/s ${(a.ok / a.wall).toFixed(0)} -> ${(b.ok / b.wall).toFixed(0)}   failures ${a.failures}/${b.failures}`,
      );
    }
    process.stdout.write(`\n${lines.join('\n')}\n`);
  } finally {
    clearTimeout(deadline);
    await Promise.all([tearDown(base), tearDown(candidate)]);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`compare failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
