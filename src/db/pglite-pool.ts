// Presents an embedded PGlite database as the tiny slice of a `pg` pool that Kysely's
// PostgresDialect uses, so the embedded and the server database share one dialect,
// one set of queries and one set of migrations.
import { PGlite } from '@electric-sql/pglite';
import type { PostgresPool, PostgresPoolClient, PostgresQueryResult } from 'kysely';

const INT8_OID = 20;

export class PGlitePool implements PostgresPool {
  /** PGlite is a single connection: a connection is held by one user (a transaction) at a time. */
  #busy = false;
  #waiters: Array<() => void> = [];

  constructor(readonly pglite: PGlite) {}

  static async open(dataDir: string | undefined): Promise<PGlitePool> {
    // int8 as a string, as `pg` returns it, so both databases give the same row shapes.
    const pglite = await PGlite.create(dataDir, { parsers: { [INT8_OID]: (value: string) => value } });
    return new PGlitePool(pglite);
  }

  async connect(): Promise<PostgresPoolClient> {
    if (this.#busy) await new Promise<void>((resolve) => this.#waiters.push(resolve));
    this.#busy = true;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      const next = this.#waiters.shift();
      if (next) next();
      else this.#busy = false;
    };
    const client = {
      query: async (sql: string, parameters: readonly unknown[]) => {
        // Parameterless SQL may hold several statements (migrations); `exec` runs them all,
        // as `pg` does for a parameterless query.
        if (parameters.length === 0) {
          const results = await this.pglite.exec(sql);
          return toResult(results[results.length - 1]);
        }
        return toResult(await this.pglite.query(sql, parameters as unknown[]));
      },
      release,
    };
    return client as unknown as PostgresPoolClient;
  }

  async end(): Promise<void> {
    if (!this.pglite.closed) await this.pglite.close();
  }
}

interface PGliteResult {
  rows: unknown[];
  affectedRows?: number;
}

function toResult(result: PGliteResult | undefined): PostgresQueryResult<unknown> {
  const rows = result?.rows ?? [];
  const command = (result as { command?: string } | undefined)?.command ?? 'SELECT';
  return {
    command: command as PostgresQueryResult<unknown>['command'],
    rowCount: result?.affectedRows ?? rows.length,
    rows,
  };
}
