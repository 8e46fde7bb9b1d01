// Single-use rows (reset and verification tokens, OAuth states; later MFA and passkey
// challenges): the SQL that purges them once they are spent, shared by every such table. Each
// feature declares its own table with one line in its repo:
//
//   export const spentResetTokens = spentRows('password_reset_tokens', 'id');
//
// and migrations/ gives the table the index this SQL uses:
//
//   CREATE INDEX <table>_spent_at_idx ON <table> ((LEAST(used_at, expires_at)));
import { sql } from 'kysely';
import type { Executor } from '../../db/database.js';
import type { Database } from '../../db/schema.js';

/** Tables with the single-use shape: `used_at` (null until spent) and `expires_at`. */
export type SingleUseTable = {
  [T in keyof Database]: Database[T] extends { used_at: unknown; expires_at: unknown } ? T : never;
}[keyof Database];

export interface SpentRows {
  readonly table: SingleUseTable;
  /** Deletes up to `limit` rows spent (used, or expired, whichever came first) before `before`; returns how many. */
  purge(db: Executor, before: Date, limit: number): Promise<number>;
  /** How many rows `purge` would remove, all batches together (a dry run). */
  count(db: Executor, before: Date): Promise<number>;
}

/**
 * The moment a row stopped being usable: LEAST skips NULLs, so an unused row counts from its
 * expiry. Written exactly as in the index (migrations/0003_retention.sql), so the index is used.
 */
const spentAt = sql`LEAST(used_at, expires_at)`;

export function spentRows<T extends SingleUseTable>(table: T, key: keyof Database[T] & string): SpentRows {
  const name = sql.table(table);
  const id = sql.ref(key);
  return {
    table,
    // Rows locked by a transaction (a token being spent right now) are skipped, never waited for.
    async purge(db, before, limit) {
      const result = await sql`
        DELETE FROM ${name}
         WHERE ${id} IN (SELECT ${id} FROM ${name} WHERE ${spentAt} < ${before} LIMIT ${limit} FOR UPDATE SKIP LOCKED)
      `.execute(db);
      return Number(result.numAffectedRows ?? 0n);
    },
    async count(db, before) {
      const result = await sql<{ n: number }>`SELECT count(*)::int AS n FROM ${name} WHERE ${spentAt} < ${before}`.execute(db);
      return result.rows[0]?.n ?? 0;
    },
  };
}
