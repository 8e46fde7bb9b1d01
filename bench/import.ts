// `keyhold import` throughput and memory (src/modules/import-export).
//
//   npx tsx bench/import.ts [--users 100000] [--db postgres|embedded] (repeatable) [--batch-size 1000]
//
// Writes a JSON-lines file of generated users with pre-computed hashes (bcrypt, argon2id, passlib
// and Django PBKDF2, in turn; hashing is not what is measured), a third of them in shared accounts
// of ten (one owner each), a third with their own personal account, a third with an OAuth identity;
// then runs the real binary (`keyhold import FILE --json`) on a fresh database of each kind and
// prints users/s (the import's own elapsed time, from its summary), the command's wall time and
// its peak RSS (/usr/bin/time), beside the peak of `keyhold migrate` on the same database. The same import of a tenth of the users is run first: a peak RSS
// that does not grow with the file is the constant-memory claim. Figures, not a test.
import { spawn } from 'node:child_process';
import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import argon2 from 'argon2';
import bcrypt from 'bcryptjs';
import { ADMIN_URL, createBenchDatabase, type DatabaseKind } from './databases.js';

const { values: args } = parseArgs({
  options: {
    users: { type: 'string', default: '100000' },
    db: { type: 'string', multiple: true },
    'batch-size': { type: 'string', default: '1000' },
  },
});
const USERS = Number(args.users);
const KINDS = (args.db ?? ['postgres', 'embedded']) as DatabaseKind[];
const BIN = new URL('../bin/keyhold.js', import.meta.url).pathname;

async function hashes(): Promise<string[]> {
  const ab64 = (b: Buffer) => b.toString('base64').replace(/=+$/, '').replace(/\+/g, '.');
  const salt = randomBytes(16);
  return [
    await bcrypt.hash('bench password', 10),
    await argon2.hash('bench password', { type: argon2.argon2id }),
    `$pbkdf2-sha256$29000$${ab64(salt)}$${ab64(pbkdf2Sync('bench password', salt, 29000, 32, 'sha256'))}`,
    `pbkdf2_sha256$600000$benchsalt$${pbkdf2Sync('bench password', 'benchsalt', 600000, 32, 'sha256').toString('base64')}`,
  ];
}

async function writeFixture(file: string, users: number, pool: string[]): Promise<void> {
  const out = createWriteStream(file);
  for (let i = 0; i < users; i++) {
    const line: Record<string, unknown> = { email: `user${i}@bench.test`, name: `Bench User ${i}`, password_hash: pool[i % pool.length], email_verified: i % 2 === 0 };
    if (i % 3 === 0) {
      const group = Math.floor(i / 30);
      line.account = { key: `team-${group}`, name: `Team ${group}`, plan: 'team' };
      line.account_role = i % 30 === 0 ? 'owner' : 'member';
    } else if (i % 3 === 1) {
      line.oauth = [{ provider: 'google', subject: `g-${i}` }];
    }
    if (!out.write(`${JSON.stringify(line)}\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

function keyhold(cliArgs: string[], env: Record<string, string>): Promise<{ summary: any; wallMs: number; peakRssMb: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/time', ['-f', '%M', process.execPath, BIN, ...cliArgs, '--json'], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', KEYHOLD_CLI_FROM_SOURCE: '1', LOG_LEVEL: 'silent', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c));
    child.stderr.on('data', (c: Buffer) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`keyhold ${cliArgs[0]} failed (${code}): ${stderr}`));
      const peakKb = Number(stderr.trim().split('\n').pop());
      resolve({ summary: JSON.parse(stdout), wallMs: performance.now() - started, peakRssMb: peakKb / 1024 });
    });
  });
}

const dir = await mkdtemp(join(tmpdir(), 'keyhold-bench-import-'));
try {
  const pool = await hashes();
  const small = join(dir, 'small.jsonl');
  const large = join(dir, 'large.jsonl');
  await writeFixture(small, Math.max(1000, Math.round(USERS / 10)), pool);
  await writeFixture(large, USERS, pool);
  console.log(`keyhold import: ${USERS} generated users, batch size ${args['batch-size']}`);
  console.log('database   users    users/s   import s   wall s   peak RSS');
  for (const kind of KINDS) {
    for (const [file, n] of [[small, Math.max(1000, Math.round(USERS / 10))], [large, USERS]] as const) {
      const database = await createBenchDatabase(kind, ADMIN_URL);
      try {
        // Migrated first, by its own process: the embedded database's first open (initdb) peaks
        // near 1 GB by itself, which is not the import's memory.
        const baseline = await keyhold(['migrate'], database.env);
        const { summary, wallMs, peakRssMb } = await keyhold(['import', file, '--batch-size', args['batch-size']!], database.env);
        if (summary.imported !== n) throw new Error(`imported ${summary.imported} of ${n}: ${JSON.stringify(summary.errors.slice(0, 3))}`);
        console.log(
          `${kind.padEnd(10)} ${String(n).padStart(6)} ${String(summary.users_per_second).padStart(10)} ${(summary.elapsed_ms / 1000).toFixed(1).padStart(10)} ${(wallMs / 1000).toFixed(1).padStart(8)} ${peakRssMb.toFixed(0).padStart(7)} MB  (the CLI's own baseline: ${baseline.peakRssMb.toFixed(0)} MB)`,
        );
      } finally {
        await database.drop();
      }
    }
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
