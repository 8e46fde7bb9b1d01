// Fresh databases for tests: an in-memory (or temporary on-disk) PGlite always, and a
// throw-away database on the PostgreSQL server named by TEST_DATABASE_URL when it is set.
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, sql } from 'kysely';
import { CommitAwareDialect } from '../../src/db/after-commit.js';
import v8 from 'node:v8';
import pg from 'pg';
import type { DatabaseHandle } from '../../src/db/database.js';
import { PGlitePool } from '../../src/db/pglite-pool.js';
import { registerPool } from '../../src/db/prepared.js';
import type { Database } from '../../src/db/schema.js';

export type DatabaseKind = 'pglite' | 'postgres';

// PGlite is 9 MB of WebAssembly. V8 compiles it twice: a quick baseline (Liftoff), then the
// optimised tier-up in background threads, about 1.5 s of CPU per test process that most
// suites never earn back. Test processes keep the baseline; it changes no behaviour.
v8.setFlagsFromString('--liftoff-only');

export const DATABASE_KINDS: DatabaseKind[] = process.env.TEST_DATABASE_URL ? ['pglite', 'postgres'] : ['pglite'];

export interface TestDatabase {
  kind: DatabaseKind;
  /** Environment that points Keyhold at this database. */
  env: Record<string, string>;
  /** For postgres: a connection URL to it (tests that look at rows directly). */
  url?: string;
  drop(): Promise<void>;
}

export async function createTestDatabase(kind: DatabaseKind, options: { persistent?: boolean } = {}): Promise<TestDatabase> {
  if (kind === 'pglite') {
    if (!options.persistent) return { kind, env: { DATA_DIR: 'memory://' }, drop: async () => {} };
    const dir = await mkdtemp(join(tmpdir(), 'keyhold-test-'));
    // What PGlite's initdb would leave in the directory on first open, unpacked instead.
    const cluster = await PGlite.create(dir, { loadDataDir: await freshCluster() });
    await cluster.close();
    return { kind, env: { DATA_DIR: dir }, drop: () => rm(dir, { recursive: true, force: true }) };
  }
  const adminUrl = process.env.TEST_DATABASE_URL!;
  const name = `keyhold_test_${randomBytes(6).toString('hex')}`;
  await withClient(adminUrl, (client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    kind,
    url: url.toString(),
    env: { DATABASE_URL: url.toString() },
    drop: () => withClient(adminUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => {}),
  };
}

/** One short-lived connection (also used by bench/ to create and drop its databases). */
export async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

// PGlite's initdb costs about 2 s of CPU per embedded database, and nearly every suite makes
// several. A freshly initialised cluster is made once (per machine and PGlite version, cached
// under node_modules/.cache) and each test database is unpacked from it in about 0.4 s.
// Migrations still run on every database, as on a real first start.
const PGLITE_DIR = fileURLToPath(new URL('../../node_modules/@electric-sql/pglite/', import.meta.url));
const CACHE_DIR = fileURLToPath(new URL('../../node_modules/.cache/keyhold-test/', import.meta.url));
let cluster: Promise<Blob> | undefined;

function freshCluster(): Promise<Blob> {
  cluster ??= (async () => {
    const { version } = JSON.parse(await readFile(join(PGLITE_DIR, 'package.json'), 'utf8')) as { version: string };
    const file = join(CACHE_DIR, `pglite-${version}-initdb.tar`);
    try {
      return new Blob([await readFile(file)]);
    } catch {
      // not made yet on this machine
    }
    const fresh = await PGlite.create();
    await fresh.exec('CHECKPOINT');
    const tarball = await fresh.dumpDataDir('none');
    await fresh.close();
    // Written aside and renamed: test files run in parallel processes and may race here. A
    // cache that cannot be written (read-only node_modules) only costs the next process time.
    const partial = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
    try {
      await mkdir(CACHE_DIR, { recursive: true });
      await writeFile(partial, Buffer.from(await tarball.arrayBuffer()));
      await rename(partial, file);
    } catch {
      await rm(partial, { force: true }).catch(() => {});
    }
    return tarball;
  })();
  return cluster;
}

/**
 * A fresh in-memory embedded database, as openDatabase({ dataDir: 'memory://' }) opens it
 * (same pool, same int8 parser, same Kysely dialect) but unpacked from the cached cluster.
 * The caller closes it.
 */
export async function openMemoryDatabase(): Promise<DatabaseHandle> {
  // int8 as a string, as PGlitePool.open and `pg` do.
  const pglite = await PGlite.create({ loadDataDir: await freshCluster(), parsers: { 20: (value: string) => value } });
  const pool = new PGlitePool(pglite);
  const db = new Kysely<Database>({ dialect: new CommitAwareDialect({ pool }) });
  registerPool(db, pool);
  return {
    db,
    kind: 'embedded',
    ping: async () => void (await sql`select 1`.execute(db)),
    async close() {
      await db.destroy();
      await pool.end();
    },
  };
}
