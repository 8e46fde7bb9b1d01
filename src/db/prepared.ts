// Hot statements (the access-token lookup, the refresh rotation, the login's lockout
// reservation, session inserts, audit rows, the hosted account page's lookups) run as named
// prepared statements, on PostgreSQL (database.ts) and on the embedded database
// (pglite-pool.ts): each connection parses and plans them once instead of on every request,
// and their text is fixed here rather than built per request. Their text must not vary (no
// variable-length lists) and must name its columns, since a prepared `SELECT *` fails on
// running servers after a migration adds a column ("cached plan must not change result type").
//
// Which way to write a statement (the rule for every *.repo.ts):
// - A prepared statement here, for a statement that runs on most requests of a hot route
//   (named in bench/: /auth/me, refresh, login, the hosted pages of bench/pages.ts) and whose
//   text never varies.
// - Kysely's query builder for everything else: typed against db/schema.ts, so a renamed
//   column fails the type-check.
// - Kysely's `sql` template where the builder cannot say it (a data-modifying CTE, UPDATE …
//   RETURNING with computed conditions, FOR UPDATE SKIP LOCKED, make_interval): still
//   parameterised, never string-concatenated.
// And only in a feature's *.repo.ts: services call repo functions, never the database.
import { CompiledQuery, type PostgresPool } from 'kysely';
import type { Db } from './executor.js';
import type { UsersTable } from './schema.js';

const MARKER = '/* prepared:';
const MARKER_END = ' */';

export type PreparedStatement<Row> = ((db: Db, parameters: unknown[]) => Promise<Row[]>) & {
  /** The statement as written, without the name marker (tests EXPLAIN it). */
  readonly text: string;
  /** With the marker: what a Write (db/together.ts) carries to be prepared when sent alone. */
  readonly marked: string;
};

/** The pool behind each open database (see openDatabase). */
const pools = new WeakMap<Db, PostgresPool>();

export function registerPool(db: Db, pool: PostgresPool): void {
  pools.set(db, pool);
}

/** `text` uses $1, $2, … for the parameters, in the order the caller passes them. */
export function preparedStatement<Row>(name: string, text: string): PreparedStatement<Row> {
  const marked = markedAs(name, text);
  const run = async (db: Db, parameters: unknown[]): Promise<Row[]> => {
    const pool = pools.get(db);
    // Inside a transaction `db` is the transaction, and Kysely holds its connection.
    if (!pool) return (await db.executeQuery<Row>(CompiledQuery.raw(marked, parameters))).rows;
    // Otherwise straight to the pool, as Kysely would do it, minus its layers: a measurable
    // share of the CPU of GET /auth/me (bench/).
    const client = await pool.connect();
    try {
      return (await client.query<Row>(marked, parameters)).rows;
    } finally {
      client.release();
    }
  };
  return Object.assign(run, { text, marked });
}

/** `text` marked to be run as the prepared statement `name`: Kysely hands the driver only text
 *  and values, so the name travels in the text. One name, one text, for good. */
export function markedAs(name: string, text: string): string {
  if (!/^[a-z_]+$/.test(name)) throw new Error(`bad prepared statement name: ${name}`);
  return `${MARKER}${name}${MARKER_END}\n${text}`;
}

/** The name a statement was prepared as (see the driver in database.ts), or undefined. */
export function preparedStatementName(text: string): string | undefined {
  if (!text.startsWith(MARKER)) return undefined;
  const end = text.indexOf(MARKER_END, MARKER.length);
  return end > 0 ? text.slice(MARKER.length, end) : undefined;
}

// `satisfies` keeps this in step with the table type: a column added to UsersTable and not
// here (or the reverse) fails to compile.
const userColumns = {
  id: true, email: true, password_hash: true, name: true, role: true, account_id: true,
  account_role: true, is_active: true, email_verified_at: true, must_change_password: true,
  phone: true, job_title: true, timezone: true, last_login: true, invite_code_id: true,
  failed_login_count: true, lockout_count: true, locked_until: true, created_at: true, updated_at: true,
  mfa_enabled: true,
} as const satisfies Record<keyof UsersTable, true>;

/** `users.id, users.email, …`: every column of users, named, for prepared statements. */
export const USERS_COLUMNS = Object.keys(userColumns).map((column) => `users.${column}`).join(', ');
