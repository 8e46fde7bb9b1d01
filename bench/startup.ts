// Start-up cost of `node dist/server.js` on an already-migrated database: the time from spawn
// to the first 200 on /healthz, and the resident memory after about two seconds of idling.
//
//   npx tsx bench/startup.ts [--runs 5] [--idle-ms 2000] [--no-build]
//
// Builds once (`npm run build`), migrates a throw-away embedded database (and one on the
// PostgreSQL server of TEST_DATABASE_URL when it is set), then starts the server N times on
// each and prints the medians. Runs one server at a time; the machine should be otherwise idle.
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { createBenchDatabase, type BenchDatabase } from './databases.js';
import { freePort, REPO_ROOT } from './server.js';

const execFileAsync = promisify(execFile);

interface Options {
  runs: number;
  idleMs: number;
  build: boolean;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { runs: 5, idleMs: 2000, build: true };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--runs') options.runs = Number(argv[++i]);
    else if (arg === '--idle-ms') options.idleMs = Number(argv[++i]);
    else if (arg === '--no-build') options.build = false;
    else throw new Error(`unknown argument ${arg} (use --runs N, --idle-ms MS, --no-build)`);
  }
  if (!Number.isInteger(options.runs) || options.runs < 1) throw new Error('--runs must be a whole number of at least 1');
  if (!Number.isFinite(options.idleMs) || options.idleMs < 0) throw new Error('--idle-ms must be a number of milliseconds');
  return options;
}

const SERVER_JS = join(REPO_ROOT, 'dist', 'server.js');
const CLI_JS = join(REPO_ROOT, 'dist', 'cli.js');

/** What `npm start` would run with, minus what would make runs differ from one another. */
function serverEnv(database: BenchDatabase, port: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...database.env, HOST: '127.0.0.1', PORT: String(port) };
  // The measured server gets the defaults, not whatever the caller's shell or test run set.
  for (const name of ['DATABASE_URL', 'DATA_DIR', 'REDIS_URL', 'SMTP_URL', 'METRICS_ENABLED', 'LOG_LEVEL']) {
    if (!(name in database.env)) delete env[name];
  }
  return env;
}

/** One GET /healthz; resolves with the status, or 0 when nothing answers yet. */
function probe(port: number): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/healthz', agent: false, timeout: 1000 }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(0));
    req.end();
  });
}

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!match) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]) / 1024;
}

/** CPU time (user + system) the process has used, from /proc/<pid>/stat (clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

interface Sample {
  readyMs: number;
  /** CPU used until the first 200: steadier than wall time on a busy machine. */
  cpuMs: number;
  rssMiB: number;
}

async function startOnce(database: BenchDatabase, idleMs: number): Promise<Sample> {
  const port = await freePort();
  const output: string[] = [];
  const started = performance.now();
  const child = spawn(process.execPath, [SERVER_JS], { cwd: REPO_ROOT, env: serverEnv(database, port), stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (chunk: Buffer): void => {
    output.push(chunk.toString('utf8'));
    if (output.length > 40) output.shift();
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    let readyMs: number | undefined;
    let readyCpuMs = 0;
    const deadline = started + 60_000;
    while (performance.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`server exited with code ${child.exitCode} before /healthz answered`);
      if ((await probe(port)) === 200) {
        readyMs = performance.now() - started;
        readyCpuMs = cpuMs(child.pid!);
        break;
      }
      await sleep(5);
    }
    if (readyMs === undefined) throw new Error('/healthz did not answer 200 within 60 s');
    await sleep(idleMs);
    return { readyMs, cpuMs: readyCpuMs, rssMiB: rssMiB(child.pid!) };
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${output.join('').slice(-2000)}`);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

async function measure(label: string, database: BenchDatabase, options: Options): Promise<void> {
  // Migrated first, so every measured start finds the schema up to date (as on a restart).
  await execFileAsync(process.execPath, [CLI_JS, 'migrate'], { cwd: REPO_ROOT, env: serverEnv(database, 0), timeout: 120_000 });
  const samples: Sample[] = [];
  for (let run = 0; run < options.runs; run++) {
    const sample = await startOnce(database, options.idleMs);
    samples.push(sample);
    process.stdout.write(
      `  ${label} run ${run + 1}: /healthz after ${sample.readyMs.toFixed(0)} ms (${sample.cpuMs} ms CPU), RSS ${sample.rssMiB.toFixed(1)} MiB\n`,
    );
  }
  const ready = samples.map((s) => s.readyMs);
  const rss = samples.map((s) => s.rssMiB);
  const cpu = samples.map((s) => s.cpuMs);
  process.stdout.write(
    `${label}: median ${median(ready).toFixed(0)} ms to the first 200 on /healthz ` +
      `(${Math.min(...ready).toFixed(0)}–${Math.max(...ready).toFixed(0)}; ${median(cpu).toFixed(0)} ms CPU), ` +
      `median idle RSS ${median(rss).toFixed(1)} MiB (${Math.min(...rss).toFixed(1)}–${Math.max(...rss).toFixed(1)}), ` +
      `${options.runs} runs\n`,
  );
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  if (options.build) {
    process.stdout.write('building (npm run build)…\n');
    await execFileAsync('npm', ['run', 'build'], { cwd: REPO_ROOT, timeout: 300_000 }).catch((err: { stdout?: string; stderr?: string }) => {
      throw new Error(`npm run build failed:\n${err.stdout ?? ''}${err.stderr ?? ''}`);
    });
  }
  process.stdout.write(`node ${process.version}, ${options.runs} starts each, RSS read after ${options.idleMs} ms idle\n`);
  const kinds: Array<['embedded' | 'postgres', string]> = [['embedded', 'embedded (PGlite)']];
  if (process.env.TEST_DATABASE_URL) kinds.push(['postgres', 'PostgreSQL']);
  for (const [kind, label] of kinds) {
    const adminUrl = process.env.TEST_DATABASE_URL ?? '';
    const database = await createBenchDatabase(kind, adminUrl);
    try {
      await measure(label, database, options);
    } finally {
      await database.drop();
    }
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
