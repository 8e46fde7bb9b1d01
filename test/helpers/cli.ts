// Runs the `keyhold` command line in a child process, as an operator would: src/cli as
// `npm test` emitted it (helpers/entry.ts), or, with `viaBin`, the real binary bin/keyhold.js.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { programArgs } from './entry.js';

const BIN = fileURLToPath(new URL('../../bin/keyhold.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** The database and any other settings; nothing else leaks in from the test's environment. */
  env?: Record<string, string>;
  /** Written to stdin, which is then closed. */
  input?: string;
  timeoutMs?: number;
  /** Start bin/keyhold.js itself (which runs src/cli.ts through tsx) rather than src/cli directly. */
  viaBin?: boolean;
}

export function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    TMPDIR: process.env.TMPDIR ?? '/tmp',
    // Run src/ through tsx even if someone built a dist/ that may be stale.
    KEYHOLD_CLI_FROM_SOURCE: '1',
    ...options.env,
  };
  return new Promise((resolve, reject) => {
    // --liftoff-only: V8 keeps PGlite's WebAssembly at its baseline tier instead of
    // recompiling all 9 MB of it in background threads, CPU a short command never earns back
    // (helpers/database.ts does the same for test processes). No behaviour changes.
    const program = options.viaBin ? [BIN] : programArgs('cli');
    const child = spawn(process.execPath, ['--liftoff-only', ...program, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 180_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** Runs a command that must succeed and parses its `--json` output. */
export async function runCliJson<T = any>(args: string[], options: CliOptions = {}): Promise<T> {
  const result = await runCli([...args, '--json'], options);
  if (result.code !== 0) throw new Error(`keyhold ${args.join(' ')} failed (${result.code}): ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}
