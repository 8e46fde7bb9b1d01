// Fresh databases for tests: an in-memory (or temporary on-disk) PGlite always, and a
// throw-away database on the PostgreSQL server named by TEST_DATABASE_URL when it is set.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export type DatabaseKind = 'pglite' | 'postgres';

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
