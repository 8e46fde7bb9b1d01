// One Keyhold server as its own process (the server entry `npm start` runs, as helpers/entry.ts
// starts it), on a fixed loopback port, restartable: for tests of several instances and of
// shutdown. Keeps the log lines a test asks for, parsed, and counts the rest.
import { spawn, type ChildProcess } from 'node:child_process';
import { programArgs } from './entry.js';

export interface LogLine {
  level: number;
  time: number;
  pid: number;
  msg: string;
  [field: string]: unknown;
}

export interface KeyholdProcess {
  readonly port: number;
  readonly base: string;
  /** The lines `keep` chose, from every run of this instance, in order. */
  readonly logs: LogLine[];
  /** Log lines seen in all (kept or not). */
  readonly lineCount: number;
  /** stderr of every run (a failed start says why here). */
  readonly stderr: string;
  /** Starts the process and resolves once /readyz answers 200 (ms it took). */
  start(): Promise<number>;
  /** Sends `signal` and resolves with the exit code and the ms until the process exited. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; ms: number }>;
  /** SIGKILL if still running (test clean-up). */
  kill(): void;
}

export interface KeyholdProcessOptions {
  port: number;
  /** The whole environment of the process (PATH and HOME are added). */
  env: Record<string, string>;
  keep?: (line: LogLine) => boolean;
  readyTimeoutMs?: number;
}

export function keyholdProcess(options: KeyholdProcessOptions): KeyholdProcess {
  const base = `http://127.0.0.1:${options.port}`;
  const logs: LogLine[] = [];
  let lineCount = 0;
  let stderr = '';
  let child: ChildProcess | undefined;
  let exited: Promise<number | null> = Promise.resolve(null);

  const readLines = (stream: NodeJS.ReadableStream) => {
    let partial = '';
    stream.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop()!;
      for (const text of lines) {
        if (!text) continue;
        lineCount++;
        if (!options.keep) continue;
        try {
          const line = JSON.parse(text) as LogLine;
          if (options.keep(line)) logs.push(line);
        } catch {
          // not a JSON log line
        }
      }
    });
  };

  return {
    port: options.port,
    base,
    logs,
    get lineCount() {
      return lineCount;
    },
    get stderr() {
      return stderr;
    },
    async start() {
      const started = Date.now();
      const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...options.env, PORT: String(options.port), HOST: '127.0.0.1' };
      const spawned = spawn(process.execPath, programArgs('server'), { env, stdio: ['ignore', 'pipe', 'pipe'] });
      child = spawned;
      readLines(spawned.stdout);
      spawned.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
      exited = new Promise((resolve) => spawned.on('exit', (code) => resolve(code)));
      const deadline = started + (options.readyTimeoutMs ?? 60_000);
      while (Date.now() < deadline) {
        if (spawned.exitCode !== null) throw new Error(`instance on ${options.port} exited with ${spawned.exitCode}: ${stderr}`);
        if (await fetch(`${base}/readyz`).then((r) => r.ok, () => false)) return Date.now() - started;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error(`instance on ${options.port} not ready within ${options.readyTimeoutMs ?? 60_000} ms: ${stderr}`);
    },
    async stop(signal = 'SIGTERM') {
      const signalled = Date.now();
      if (child && child.exitCode === null) child.kill(signal);
      const code = await exited;
      return { code, ms: Date.now() - signalled };
    },
    kill() {
      if (child && child.exitCode === null) child.kill('SIGKILL');
    },
  };
}
