// The one place that opens the database: embedded PGlite by default, a pooled
// PostgreSQL connection when DATABASE_URL is set.
import { mkdirSync } from 'node:fs';
import { Kysely, sql, type PostgresPool } from 'kysely';
import { CommitAwareDialect } from './after-commit.js';
import type pg from 'pg';
import type { Database } from './schema.js';
import { lockDataDir } from './data-dir-lock.js';
import type { Db } from './executor.js';
import { preparedStatementName, registerPool } from './prepared.js';

// The types live apart from the pools (executor.ts), so that the pools' modules need not import this one.
export type { Db, Executor } from './executor.js';

export interface DatabaseHandle {
  db: Db;
  kind: 'embedded' | 'postgres';
  /** Throws when the database cannot answer. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  databaseUrl?: string;
  /** Directory of the embedded database; `memory://` keeps it in memory (tests). */
  dataDir: string;
  poolSize?: number;
  /** Run the statements of `preparedStatement` (db/prepared.ts) as named prepared statements (default true). */
  preparedStatements?: boolean;
  onPoolError?: (err: Error) => void;
}

// Each kind loads only its own driver: pg for DATABASE_URL, PGlite (a large module) otherwise.
export async function openDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  if (options.databaseUrl) return openPostgres(options);
  const { PGlitePool } = await import('./pglite-pool.js');
  if (options.dataDir.startsWith('memory://')) {
    const pool = await PGlitePool.open(undefined, options.preparedStatements !== false);
    return wrap(pool, 'embedded', () => pool.end());
  }
  mkdirSync(options.dataDir, { recursive: true });
  const lock = lockDataDir(options.dataDir);
  try {
    const pool = await PGlitePool.open(options.dataDir, options.preparedStatements !== false);
    // Kysely ends the pool only if it ever used it; end it ourselves so PGlite always closes.
    return wrap(pool, 'embedded', async () => {
      await pool.end();
      lock.release();
    });
  } catch (err) {
    lock.release();
    throw err;
  }
}

async function openPostgres(options: DatabaseOptions): Promise<DatabaseHandle> {
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({
    connectionString: options.databaseUrl,
    max: options.poolSize ?? 10,
    // Fail fast when the server is gone: a request should get a 503 in seconds, not hang.
    connectionTimeoutMillis: 3000,
    idleTimeoutMillis: 30_000,
    ...(options.preparedStatements === false ? {} : { Client: preparingClient(pg) }),
  });
  // An idle client killed by the server (restart, pg_terminate_backend) emits 'error' on
  // the pool; unhandled, that would crash the process. The pool replaces the client itself.
  pool.on('error', (err) => options.onPoolError?.(err));
  // A client checked out by a transaction gets no such handler from the pool: without this,
  // a connection killed mid-transaction would be an uncaught exception that ends the process.
  // The query in flight still fails (and the request gets its 503).
  pool.on('connect', (client) => {
    client.on('error', (err) => options.onPoolError?.(err));
  });
  return wrap(pool, 'postgres');
}

/** A `pg` client that runs the statements of `preparedStatement(name, …)` as prepared statement
 *  `name`: parsed and planned once per connection (Kysely passes only text and values). */
let PreparingClient: typeof pg.Client | undefined;

function preparingClient(driver: typeof pg): typeof pg.Client {
  PreparingClient ??= class extends driver.Client {
    constructor(config?: pg.ClientConfig) {
      super(config);
      const query = this.query.bind(this) as (...args: unknown[]) => unknown;
      this.query = ((...args: unknown[]) => {
        const [text, values] = args;
        const name = typeof text === 'string' && Array.isArray(values) ? preparedStatementName(text) : undefined;
        if (!name) return query(...args);
        return new Promise((resolve, reject) => {
          // Named after construction: given a config object, pg copies it through property
          // descriptors, which showed in /auth/me's profile (bench/).
          const prepared = new driver.Query(text as string, values as unknown[], (err, result) => (err ? reject(err) : resolve(result)));
          (prepared as { name?: string }).name = name;
          query(prepared);
        });
      }) as pg.Client['query'];
    }
  };
  return PreparingClient;
}

function wrap(pool: PostgresPool, kind: DatabaseHandle['kind'], afterClose?: () => Promise<void>): DatabaseHandle {
  const db = new Kysely<Database>({ dialect: new CommitAwareDialect({ pool }) });
  registerPool(db, pool);
  return {
    db,
    kind,
    async ping() {
      await sql`select 1`.execute(db);
    },
    async close() {
      await db.destroy();
      await afterClose?.();
    },
  };
}
