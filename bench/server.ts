// Builds Keyhold once and runs it as a child process, so its CPU time can be read from /proc.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdirSync, symlinkSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
// Inside the git-ignored results folder, with symlinks to migrations/ and views/ next to the
// outDir (see prepareServer).
const BUILD_ROOT = join(REPO_ROOT, 'bench', 'results', '.build');
const OUT_DIR = join(BUILD_ROOT, 'dist');

/** Environment of every benchmarked server: limits off, quiet logs, a fixed signing key. */
export const BENCH_SERVER_ENV: Readonly<Record<string, string>> = {
  JWT_SECRET: 'keyhold-bench-signing-secret-0123456789abcdef',
  RATE_LIMIT_ENABLED: 'false',
  LOG_LEVEL: 'warn',
};

export interface ServerEntry {
  /** node arguments that start the server. */
  args: string[];
  label: string;
  /** The server's own lib/ (tokens, passwords), so the floors use the code being measured. */
  libDir: string;
  buildError?: string;
}

/** A compiled server.js given on the command line (e.g. a proposed change built elsewhere). */
export const customEntry = (serverJs: string): ServerEntry => ({
  args: [resolve(serverJs)],
  label: `custom (${serverJs})`,
  libDir: join(dirname(resolve(serverJs)), 'lib'),
});

/** Compiled JavaScript when the tree builds; `node --import tsx` on the source otherwise
 *  (another engineer's half-written file must not stop the benchmark). */
export async function prepareServer(options: { build: boolean }): Promise<ServerEntry> {
  const tsx: ServerEntry = {
    args: ['--import', 'tsx', join(REPO_ROOT, 'src', 'server.ts')],
    label: 'tsx (source)',
    libDir: join(REPO_ROOT, 'src', 'lib'),
  };
  if (!options.build) return tsx;
  mkdirSync(BUILD_ROOT, { recursive: true });
  // Beside the outDir, as in the repository: migrate.ts finds migrations/ and the hosted pages
  // find views/ at ../ from it.
  for (const folder of ['migrations', 'views']) {
    const link = join(BUILD_ROOT, folder);
    if (!existsSync(link)) symlinkSync(join(REPO_ROOT, folder), link, 'dir');
  }
  try {
    await execFileAsync(
      join(REPO_ROOT, 'node_modules', '.bin', 'tsc'),
      ['-p', 'tsconfig.json', '--outDir', OUT_DIR, '--incremental', '--tsBuildInfoFile', join(BUILD_ROOT, 'tsbuildinfo')],
      { cwd: REPO_ROOT, timeout: 180_000 },
    );
  } catch (err) {
    const output = (err as { stdout?: string }).stdout ?? String(err);
    return { ...tsx, buildError: output.split('\n').slice(0, 5).join('\n') };
  }
  return { args: [join(OUT_DIR, 'server.js')], label: 'compiled (tsc)', libDir: join(OUT_DIR, 'lib') };
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port'))));
    });
  });
}

export interface RunningServer {
  pid: number;
  baseUrl: string;
  /** The last lines it wrote (warnings, or why it died). */
  output(): string;
  stop(): Promise<void>;
}

export interface StartOptions {
  entry: ServerEntry;
  env: Record<string, string>;
  /** Node flags before the entry, e.g. --cpu-prof. */
  nodeFlags?: string[];
  readyTimeoutMs?: number;
}

export async function startServer(options: StartOptions): Promise<RunningServer> {
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [...(options.nodeFlags ?? []), ...options.entry.args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...options.env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const keep = (chunk: Buffer): void => {
    lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    if (lines.length > 40) lines.splice(0, lines.length - 40);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((done) => child.once('exit', () => done()));

  const server: RunningServer = {
    pid: child.pid!,
    baseUrl,
    output: () => lines.join('\n'),
    stop: () => stopChild(child, exited),
  };
  try {
    await waitUntilReady(baseUrl, child, options.readyTimeoutMs ?? 60_000);
  } catch (err) {
    await server.stop();
    throw new Error(`${(err as Error).message}\n${server.output()}`);
  }
  return server;
}

async function waitUntilReady(baseUrl: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited with code ${child.exitCode} before it was ready`);
    try {
      const response = await fetch(`${baseUrl}/readyz`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`server not ready after ${timeoutMs} ms`);
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}
