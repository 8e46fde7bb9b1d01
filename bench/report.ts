// The printed table, the target checks, and the JSON kept for comparing runs.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Argon2Floor, LookupFloor } from './floor.js';
import type { LoadResult } from './load.js';
import type { ScenarioName } from './scenarios.js';
import type { SqlCounts } from './sql-counter.js';

export interface EndpointResult {
  scenario: ScenarioName;
  label: string;
  connections: number;
  /** Set for a run at a fixed fraction of the measured capacity. */
  targetRate?: number;
  load: LoadResult;
  serverCpuMicrosPerRequest: number;
  postgresCpuMicrosPerRequest: number | null;
  requestsPerServerCoreSecond: number;
  sql?: { statementsPerRequest: number; roundTripsPerRequest: number };
}

export interface DatabaseReport {
  database: 'postgres' | 'embedded';
  seed: { users: number; sessions: number; seconds: number };
  argon2Floor?: Argon2Floor;
  lookupFloor?: LookupFloor;
  endpoints: EndpointResult[];
  sqlCounts?: Partial<Record<ScenarioName, SqlCounts & { requests: number }>>;
}

export interface BenchReport {
  startedAt: string;
  finishedAt?: string;
  mode: 'quick' | 'full';
  machine: { cpus: number; model: string; node: string; loadAverageAtStart: number[] };
  server: string;
  durations: { warmupSeconds: number; measureSeconds: number };
  databases: DatabaseReport[];
  targets?: TargetCheck[];
}

export function endpointResult(
  scenario: ScenarioName,
  label: string,
  connections: number,
  load: LoadResult,
  targetRate?: number,
): EndpointResult {
  const per = (seconds: number): number => (load.ok > 0 ? (seconds / load.ok) * 1e6 : NaN);
  return {
    scenario,
    label,
    connections,
    targetRate,
    load,
    serverCpuMicrosPerRequest: per(load.serverCpuSeconds),
    postgresCpuMicrosPerRequest: load.postgresCpuSeconds === null ? null : per(load.postgresCpuSeconds),
    requestsPerServerCoreSecond: load.serverCpuSeconds > 0 ? load.ok / load.serverCpuSeconds : NaN,
  };
}

/** How the endpoint compares with what the machine allows (see the legend under the table). */
function versusFloor(row: EndpointResult, db: DatabaseReport): string {
  if (row.scenario === 'me' && db.lookupFloor) {
    const floor = db.lookupFloor.clientCpuMicrosPerLookup;
    return `${fixed(row.serverCpuMicrosPerRequest / floor, 2)}x cpu`;
  }
  if ((row.scenario === 'login' || row.scenario === 'register') && db.argon2Floor) {
    return `${fixed(row.load.requestsPerSecond / db.argon2Floor.verifiesPerSecond, 2)} rate`;
  }
  return '';
}

const fixed = (value: number | null | undefined, digits = 0): string =>
  value === null || value === undefined || Number.isNaN(value) ? '-' : value.toFixed(digits);

export function formatTable(report: BenchReport): string {
  const header = ['db', 'endpoint', 'conn', 'req/s', 'p50 ms', 'p99 ms', 'srv us/req', 'req/srv-core-s', 'pg us/req', 'sql/rt', 'vs floor', 'fail', 'other cores'];
  const rows: string[][] = [];
  for (const db of report.databases) {
    for (const row of db.endpoints) {
      const label = row.targetRate ? `${row.label} @ ${Math.round(row.targetRate)}/s` : row.label;
      rows.push([
        db.database,
        label,
        String(row.connections),
        fixed(row.load.requestsPerSecond),
        fixed(row.load.latencyP50Ms, 1),
        fixed(row.load.latencyP99Ms, 1),
        fixed(row.serverCpuMicrosPerRequest),
        fixed(row.requestsPerServerCoreSecond),
        fixed(row.postgresCpuMicrosPerRequest),
        row.sql ? `${fixed(row.sql.statementsPerRequest, 1)}/${fixed(row.sql.roundTripsPerRequest, 1)}` : '',
        versusFloor(row, db),
        String(row.load.failures),
        fixed(row.load.otherCores, 2),
      ]);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string =>
    cells.map((cell, i) => (i <= 1 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  const out = [
    `Keyhold ${report.mode} bench, ${report.startedAt}: server ${report.server}; ${report.machine.cpus} x ${report.machine.model}, node ${report.machine.node}`,
    '',
    line(header),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...rows.map(line),
  ];

  out.push('');
  for (const db of report.databases) {
    const a = db.argon2Floor;
    if (a) {
      out.push(
        `floor  argon2id m=${a.params.memoryKib} KiB t=${a.params.iterations} p=${a.params.parallelism} (around the ${db.database} login run): ` +
          `${fixed(a.verifiesPerSecond, 1)} verifies/s with ${a.concurrency} in flight (threadpool ${a.threadpoolSize}), ` +
          `${fixed(a.cpuMsPerVerify, 1)} ms CPU each (${fixed(1000 / a.cpuMsPerVerify, 1)}/s per core)`,
      );
    }
    const f = db.lookupFloor;
    if (!f) continue;
    out.push(
      `floor  JWT verify + PK SELECT (${f.database}, around the /me run): ${fixed(f.lookupsPerSecond)}/s, ` +
        `${fixed(f.clientCpuMicrosPerLookup)} us client CPU (JWT ${fixed(f.jwtVerifyMicros)} us)` +
        (f.postgresCpuMicrosPerLookup !== null ? ` + ${fixed(f.postgresCpuMicrosPerLookup)} us PostgreSQL CPU` : '') +
        ` per lookup`,
    );
  }
  out.push(
    '',
    'srv us/req: server process CPU (utime+stime, all threads) per 2xx response; pg us/req: the bench database\'s',
    'backends + WAL writer/bgwriter/checkpointer; sql/rt: SQL statements / database round trips per request (PostgreSQL,',
    'counted by a protocol proxy); vs floor: /me = server CPU per request / floor client CPU per lookup, login and register',
    '= req/s / argon2 verifies/s; other cores: CPU used meanwhile by everything else on the machine.',
  );
  return out.join('\n');
}

export interface TargetCheck {
  target: string;
  database: string;
  measured: string;
  met: boolean;
}

export function checkTargets(report: BenchReport): TargetCheck[] {
  const checks: TargetCheck[] = [];
  for (const db of report.databases) {
    const find = (scenario: ScenarioName, rated = false) =>
      db.endpoints.find((row) => row.scenario === scenario && Boolean(row.targetRate) === rated);
    const me = find('me');
    if (me?.sql) {
      checks.push({ target: 'GET /auth/me: one SQL statement', database: db.database, measured: `${fixed(me.sql.statementsPerRequest, 2)} statements`, met: me.sql.statementsPerRequest <= 1.001 });
    }
    if (me && db.lookupFloor) {
      const ratio = me.serverCpuMicrosPerRequest / db.lookupFloor.clientCpuMicrosPerLookup;
      checks.push({ target: 'GET /auth/me: server CPU <= 1.5x floor (JWT verify + PK SELECT)', database: db.database, measured: `${fixed(ratio, 2)}x (${fixed(me.requestsPerServerCoreSecond)} req/core-s)`, met: ratio <= 1.5 });
    }
    const refresh = find('refresh');
    if (refresh?.sql) {
      checks.push({ target: 'POST /auth/refresh: one database round trip', database: db.database, measured: `${fixed(refresh.sql.roundTripsPerRequest, 2)} round trips`, met: refresh.sql.roundTripsPerRequest <= 1.001 });
    }
    if (refresh) {
      checks.push({ target: 'POST /auth/refresh: >= 2,000 req per server core-second', database: db.database, measured: fixed(refresh.requestsPerServerCoreSecond), met: refresh.requestsPerServerCoreSecond >= 2000 });
    }
    const rated = find('refresh', true);
    if (rated) {
      checks.push({ target: 'POST /auth/refresh: p99 < 25 ms at 80% of capacity', database: db.database, measured: `${fixed(rated.load.latencyP99Ms, 1)} ms at ${fixed(rated.load.requestsPerSecond)}/s`, met: rated.load.latencyP99Ms < 25 });
    }
    const login = find('login');
    if (login && db.argon2Floor) {
      const floor = db.argon2Floor;
      const ratio = login.load.requestsPerSecond / floor.verifiesPerSecond;
      checks.push({
        target: 'POST /auth/login/json: >= 0.9 of argon2id verify rate',
        database: db.database,
        measured: `${fixed(ratio, 2)} (${fixed(login.load.requestsPerSecond, 1)} vs ${fixed(floor.verifiesPerSecond, 1)}/s)`,
        met: ratio >= 0.9,
      });
    }
  }
  return checks;
}

export function formatTargets(checks: TargetCheck[]): string {
  return checks.map((c) => `${c.met ? 'MET ' : 'MISS'}  ${c.database.padEnd(8)}  ${c.target}: ${c.measured}`).join('\n');
}

export function writeReport(dir: string, report: BenchReport): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${report.startedAt.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  return file;
}
