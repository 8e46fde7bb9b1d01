// Forcing an interleaving on PostgreSQL: a second connection holds a row lock in an open
// transaction, the test starts its requests, waits until every one of them is blocked on that
// lock (each has read what it read), and only then lets them go. Races that argon2's spread
// or lucky timing would otherwise decide happen on every run.
import pg from 'pg';

export interface HeldLock {
  /** Commits the holder's transaction: the blocked statements proceed one by one. */
  release(): Promise<void>;
  /** Statements of the test database blocked on a lock right now, with what they hold. */
  blocked(): Promise<Array<{ pid: number; query: string; relationsLocked: string[] }>>;
  /** Resolves once `count` backends are waiting on a lock; throws after `timeoutMs`. */
  waitForBlocked(count: number, timeoutMs?: number): Promise<void>;
}

/** Runs `lockSql` (e.g. `SELECT … FOR UPDATE`) in a transaction kept open until release(). */
export async function holdLock(url: string, lockSql: string, parameters: unknown[] = []): Promise<HeldLock> {
  const holder = new pg.Client({ connectionString: url });
  const observer = new pg.Client({ connectionString: url });
  await holder.connect();
  await observer.connect();
  await holder.query('BEGIN');
  const locked = await holder.query(lockSql, parameters);
  if (locked.rowCount === 0) throw new Error(`holdLock: nothing to lock: ${lockSql}`);
  const holderPid = (await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  let released = false;

  const blocked = async () => {
    // The observer is outside any transaction, so every call sees fresh activity.
    const { rows } = await observer.query<{ pid: number; query: string; relations_locked: string[] | null }>(
      `SELECT a.pid, a.query,
              (SELECT array_agg(DISTINCT c.relname::text) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
                WHERE l.pid = a.pid AND l.granted AND c.relkind = 'r') AS relations_locked
         FROM pg_stat_activity a
        WHERE a.datname = current_database() AND a.wait_event_type = 'Lock' AND a.pid NOT IN ($1, pg_backend_pid())`,
      [holderPid],
    );
    return rows.map((row) => ({ pid: row.pid, query: row.query, relationsLocked: row.relations_locked ?? [] }));
  };

  return {
    blocked,
    async waitForBlocked(count, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      let seen = 0;
      while ((seen = (await blocked()).length) < count) {
        if (Date.now() > deadline) throw new Error(`waited for ${count} blocked statements, saw ${seen}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    async release() {
      if (released) return;
      released = true;
      try {
        await holder.query('COMMIT');
      } finally {
        await holder.end();
        await observer.end();
      }
    },
  };
}
