// The database each benchmarked server runs on: a throw-away database on the PostgreSQL
// server (created and dropped like test/helpers/database.ts does), or a temporary directory
// for the embedded one.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { withClient } from '../test/helpers/database.js';

export type DatabaseKind = 'postgres' | 'embedded';

/** The PostgreSQL server the bench creates its databases on: loopback only. */
export const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
if (!['127.0.0.1', 'localhost', '[::1]'].includes(new URL(ADMIN_URL).hostname)) {
  throw new Error(`the benchmark only runs against a loopback PostgreSQL (got ${new URL(ADMIN_URL).hostname})`);
}

export interface BenchDatabase {
  kind: DatabaseKind;
  /** Environment that points the server at it. */
  env: Record<string, string>;
  /** PostgreSQL only: a connection URL to it, and its name. */
  url?: string;
  name?: string;
  dataDir?: string;
  drop(): Promise<void>;
}

/** `settings`: PostgreSQL parameters for this database only (ALTER DATABASE … SET), e.g. to
 *  see what synchronous_commit costs; names and values are checked before use. */
export async function createBenchDatabase(kind: DatabaseKind, adminUrl: string, settings: Record<string, string> = {}): Promise<BenchDatabase> {
  if (kind === 'embedded') {
    const dataDir = await mkdtemp(join(tmpdir(), 'keyhold-bench-'));
    return { kind, env: { DATA_DIR: dataDir }, dataDir, drop: () => rm(dataDir, { recursive: true, force: true }) };
  }
  const name = `keyhold_bench_${randomBytes(6).toString('hex')}`;
  await withClient(adminUrl, async (client) => {
    await client.query(`CREATE DATABASE ${name}`);
    for (const [setting, value] of Object.entries(settings)) {
      if (!/^[a-z_.]+$/.test(setting) || !/^[\w.-]+$/.test(value)) throw new Error(`invalid PostgreSQL setting ${setting}=${value}`);
      await client.query(`ALTER DATABASE ${name} SET ${setting} = '${value}'`);
    }
  });
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    kind,
    env: { DATABASE_URL: url.toString() },
    url: url.toString(),
    name,
    drop: () => withClient(adminUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => {}),
  };
}

/**
 * The PostgreSQL processes that work for one database: its backends, plus the WAL writer,
 * background writer and checkpointer, which do the commit and flush work its writes cause.
 * Backends of other databases (engineers' test runs on the same server) are left out.
 */
export async function postgresPidsFor(admin: pg.Client, database: string): Promise<number[]> {
  const result = await admin.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity
      WHERE (datname = $1 AND pid <> pg_backend_pid())
         OR backend_type IN ('walwriter', 'background writer', 'checkpointer')`,
    [database],
  );
  return result.rows.map((row) => row.pid);
}
