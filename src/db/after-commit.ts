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
import { PostgresDialect, type DatabaseConnection, type DialectAdapter, type Driver } from 'kysely';
import type { Executor } from './executor.js';

type Hook = () => void;

const hooks = new WeakMap<DatabaseConnection, Hook[]>();
const commitAware = new WeakSet<DialectAdapter>();

export class CommitAwareDialect extends PostgresDialect {
  override createAdapter(): DialectAdapter {
    const adapter = super.createAdapter();
    commitAware.add(adapter);
    return adapter;
  }

  override createDriver(): Driver {
    const driver = super.createDriver();
    // Delegation, not a prototype: the driver keeps its state in private fields.
    return {
      init: () => driver.init(),
      acquireConnection: () => driver.acquireConnection(),
      releaseConnection: (connection) => driver.releaseConnection(connection),
      destroy: () => driver.destroy(),
      savepoint: driver.savepoint?.bind(driver),
      rollbackToSavepoint: driver.rollbackToSavepoint?.bind(driver),
      releaseSavepoint: driver.releaseSavepoint?.bind(driver),
      async beginTransaction(connection, settings) {
        hooks.delete(connection);
        await driver.beginTransaction(connection, settings);
      },
      async commitTransaction(connection) {
        await driver.commitTransaction(connection);
        const due = hooks.get(connection);
        hooks.delete(connection);
        for (const hook of due ?? []) hook();
      },
      async rollbackTransaction(connection) {
        hooks.delete(connection);
        await driver.rollbackTransaction(connection);
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
