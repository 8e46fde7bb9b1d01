// "Once this transaction has committed, do X", without the caller knowing whether it runs in a
// transaction. The job queue needs it: a job is queued inside the change's transaction, and
// notify() after the commit must wake that job's lane. Noting the kind at the INSERT (before the
// commit) let another request's notify() take the note while the job was still invisible: its
// lane claimed, found nothing, and the job waited for the poll (what lost emails on the
// embedded database, whose one connection makes that interleaving the usual one). A note made
// at the commit cannot be taken early.
//
// CommitAwareDialect is Kysely's PostgresDialect whose driver runs a connection's hooks right
// after its COMMIT succeeds and drops them on ROLLBACK (or at the next BEGIN, after an aborted
// one). Outside a transaction a hook runs at once (the statement has already committed); on a
// database opened with a plain dialect too (nothing would ever run it otherwise).
//
// The same driver sends a transaction's BEGIN with its first statement rather than at once, so
// that a transaction that sends nothing costs nothing; and when that first statement is marked
// as the whole of its change (endsItsChange: the sign-in's one write, db/together.ts), it is
// sent without BEGIN and COMMIT at all, committing by itself: two round trips fewer per login,
// each about 0.15 ms of the event loop's time and 0.05 ms of the database's on the machine of
// docs/performance.md. A statement after it in the same transaction is refused (it could no
// longer be rolled back with it): the mark is for a change's last statement only.
import { CompiledQuery, PostgresDialect, type DatabaseConnection, type DialectAdapter, type Driver, type QueryResult, type TransactionSettings } from 'kysely';
import type { Executor } from './executor.js';
import { preparedStatementName } from './prepared.js';

type Hook = () => void;

const hooks = new WeakMap<DatabaseConnection, Hook[]>();
const commitAware = new WeakSet<DialectAdapter>();

const ENDS_ITS_CHANGE = '/* ends its change */';

/** `text` marked as the last statement of its change (see above); after a prepared statement's
 *  name when it has one (db/prepared.ts reads the name from the text's start). */
export function endingItsChange(text: string): string {
  if (preparedStatementName(text) === undefined) return `${ENDS_ITS_CHANGE}\n${text}`;
  const lineEnd = text.indexOf('\n') + 1;
  return `${text.slice(0, lineEnd)}${ENDS_ITS_CHANGE}\n${text.slice(lineEnd)}`;
}

// Where the marker may sit: first, or after a prepared statement's name (db/prepared.ts).
const endsItsChange = (sql: string): boolean => sql.startsWith(ENDS_ITS_CHANGE) || sql.startsWith(ENDS_ITS_CHANGE, sql.indexOf('\n') + 1);

/** A connection's transaction: BEGIN owed (nothing sent yet), begun, or done by one statement alone. */
type TransactionState = 'owed' | 'begun' | 'alone';

/** A driver's connection that sends the BEGIN it owes before its first statement. */
class LazyConnection implements DatabaseConnection {
  state: TransactionState | undefined;
  constructor(readonly inner: DatabaseConnection) {}

  /** The transaction's state, forgotten: it has ended (committed or rolled back). */
  end(): TransactionState | undefined {
    const state = this.state;
    this.state = undefined;
    return state;
  }

  /** Refuses a statement after a lone one; sends the BEGIN owed, if any. */
  private async beforeStatement(): Promise<void> {
    if (this.state === 'alone') throw new Error('a statement after the one marked as the whole of its change (db/after-commit.ts)');
    if (this.state !== 'owed') return;
    this.state = 'begun';
    await this.inner.executeQuery(CompiledQuery.raw('begin'));
  }

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    if (this.state === 'owed' && endsItsChange(query.sql)) {
      const result = await this.inner.executeQuery<R>(query);
      this.state = 'alone'; // committed by itself (a failure committed nothing: BEGIN still owed)
      return result;
    }
    await this.beforeStatement();
    return this.inner.executeQuery<R>(query);
  }

  async *streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    await this.beforeStatement();
    yield* this.inner.streamQuery<R>(query, chunkSize);
  }
}

export class CommitAwareDialect extends PostgresDialect {
  override createAdapter(): DialectAdapter {
    const adapter = super.createAdapter();
    commitAware.add(adapter);
    return adapter;
  }

  override createDriver(): Driver {
    const driver = super.createDriver();
    const lazy = new WeakMap<DatabaseConnection, LazyConnection>();
    // Every connection the driver hands out is one of these (acquireConnection).
    const lazyOf = (connection: DatabaseConnection) => connection as LazyConnection;
    const runHooks = (connection: DatabaseConnection) => {
      const due = hooks.get(connection);
      hooks.delete(connection);
      for (const hook of due ?? []) hook();
    };
    // Delegation, not a prototype: the driver keeps its state in private fields.
    return {
      init: () => driver.init(),
      async acquireConnection() {
        const inner = await driver.acquireConnection();
        let connection = lazy.get(inner);
        if (!connection) lazy.set(inner, (connection = new LazyConnection(inner)));
        connection.state = undefined;
        return connection;
      },
      releaseConnection: (connection) => driver.releaseConnection(lazyOf(connection).inner),
      destroy: () => driver.destroy(),
      savepoint: driver.savepoint?.bind(driver), // through the lazy connection: BEGIN first if owed
      rollbackToSavepoint: driver.rollbackToSavepoint?.bind(driver),
      releaseSavepoint: driver.releaseSavepoint?.bind(driver),
      async beginTransaction(connection, settings: TransactionSettings) {
        hooks.delete(connection);
        const lazyConnection = lazyOf(connection);
        // START TRANSACTION ISOLATION LEVEL … must come first: sent at once.
        if (settings.isolationLevel || settings.accessMode) {
          lazyConnection.state = 'begun';
          return driver.beginTransaction(lazyConnection.inner, settings);
        }
        lazyConnection.state = 'owed';
      },
      async commitTransaction(connection) {
        const lazyConnection = lazyOf(connection);
        if (lazyConnection.end() === 'begun') await driver.commitTransaction(lazyConnection.inner);
        runHooks(connection);
      },
      async rollbackTransaction(connection) {
        const lazyConnection = lazyOf(connection);
        const state = lazyConnection.end();
        // A change whose one statement committed by itself has nothing left to roll back (the
        // work failed after its last statement): what it queued is there, so its hooks run.
        if (state === 'alone') return runHooks(connection);
        hooks.delete(connection);
        if (state === 'begun') await driver.rollbackTransaction(lazyConnection.inner);
      },
    };
  }
}

/** Runs `hook` once `db`'s transaction has committed (never if it rolls back); at once outside one. */
export async function afterCommit(db: Executor, hook: Hook): Promise<void> {
  if (!db.isTransaction || !commitAware.has(db.getExecutor().adapter)) return hook();
  await db.getExecutor().provideConnection(async (connection) => {
    const list = hooks.get(connection);
    if (list) list.push(hook);
    else hooks.set(connection, [hook]);
  });
}
