// Presents an embedded PGlite database as the tiny slice of a `pg` pool that Kysely's
// PostgresDialect uses, so the embedded and the server database share one dialect,
// one set of queries and one set of migrations.
import { parse, PGlite, protocol } from '@electric-sql/pglite';
import type { PostgresPool, PostgresPoolClient, PostgresQueryResult } from 'kysely';
import { preparedStatementName } from './prepared.js';

const INT8_OID = 20;

export class PGlitePool implements PostgresPool {
  /** PGlite is a single connection: a connection is held by one user (a transaction) at a time. */
  #busy = false;
  #waiters: Array<() => void> = [];
  /** Each statement prepared so far, by name (see #runPrepared). */
  #prepared = new Map<string, PreparedOnPGlite>();

  /** `prepare`: run the statements of `preparedStatement` (db/prepared.ts) as prepared statements. */
  constructor(
    readonly pglite: PGlite,
    readonly prepare = true,
  ) {}

  static async open(dataDir: string | undefined, prepare = true): Promise<PGlitePool> {
    // int8 as a string, as `pg` returns it, so both databases give the same row shapes.
    const pglite = await PGlite.create(dataDir, { parsers: { [INT8_OID]: (value: string) => value } });
    return new PGlitePool(pglite, prepare);
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
        const name = this.prepare ? preparedStatementName(sql) : undefined;
        if (name) return toResult(await this.#runPrepared(name, sql, parameters));
        return toResult(await this.pglite.query(sql, parameters as unknown[]));
      },
      release,
    };
    return client as unknown as PostgresPoolClient;
  }

  /**
   * A statement of `preparedStatement` as a named prepared statement: parsed and planned once
   * (PGlite's query() parses and plans on every call, and in six round trips into the
   * WebAssembly; planning was most of the cost of a short statement), then bound and executed
   * in one round trip. Its parameters are serialised as query() does it, from the types the
   * statement was prepared with, and its rows parsed with the row description it was prepared
   * with (the columns are named, so it holds until a migration changes a column's type, and
   * then the statement fails on PostgreSQL too). The Sync travels with every batch, so a
   * statement that fails leaves the connection ready (and a transaction aborted, as there).
   */
  async #runPrepared(name: string, text: string, parameters: readonly unknown[]): Promise<PGliteResult | undefined> {
    const { pglite } = this;
    return pglite.runExclusive(async () => {
      // query() checks this itself; execProtocol on a closed database fails obscurely.
      if (!pglite.ready) throw new Error(pglite.closed ? 'PGlite is closed' : 'PGlite is closing');
      let statement = this.#prepared.get(name);
      if (!statement) {
        const described = await pglite.execProtocol(
          batch([serialize.parse({ name, text }), serialize.describe({ type: 'S', name }), serialize.sync()]),
          { syncToFs: false },
        );
        const rowDescription = described.messages.find((message) => message.name === 'rowDescription');
        statement = { text, types: parse.parseDescribeStatementResults(described.messages), rowDescription };
        this.#prepared.set(name, statement);
      }
      // Names are the statements' identity, as for `pg`, which refuses a second text too.
      if (statement.text !== text) throw new Error(`prepared statement ${name} was prepared with another text`);
      const { types, rowDescription } = statement;
      const values = parameters.map((value, i) => {
        if (value === null || value === undefined) return null;
        const serializer = pglite.serializers[types[i]!];
        return serializer ? (serializer(value) as string) : String(value);
      });
      const { messages } = await pglite.execProtocol(
        batch([serialize.bind({ statement: name, values }), serialize.execute({}), serialize.sync()]),
      );
      return parse.parseResults(rowDescription ? [rowDescription, ...messages] : messages, pglite.parsers)[0];
    });
  }

  async end(): Promise<void> {
    if (!this.pglite.closed) await this.pglite.close();
  }
}

const serialize = protocol.serialize;

type BackendMessage = Awaited<ReturnType<PGlite['execProtocol']>>['messages'][number];

interface PreparedOnPGlite {
  text: string;
  /** Parameter type OIDs, as Describe answered. */
  types: number[];
  /** Absent for a statement that returns no rows. */
  rowDescription: BackendMessage | undefined;
}

function batch(messages: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(messages.reduce((length, message) => length + message.length, 0));
  let at = 0;
  for (const message of messages) {
    out.set(message, at);
    at += message.length;
  }
  return out;
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
