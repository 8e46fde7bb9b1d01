// Platform-wide user queries for administrators (users.repo.ts holds the per-user ones).
import type { UserRow } from '../../db/schema.js';
import type { Executor } from '../../db/database.js';

/** `q` matches anywhere in the email or name, case-insensitively; LIKE wildcards in it are literal. */
export async function searchUsers(db: Executor, filter: { q?: string; limit: number; offset: number }): Promise<UserRow[]> {
  let query = db.selectFrom('users').selectAll();
  if (filter.q) {
    const pattern = `%${filter.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    query = query.where((eb) => eb.or([eb('email', 'ilike', pattern), eb('name', 'ilike', pattern)]));
  }
  return query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(filter.limit).offset(filter.offset).execute();
}

/** Locks the users in id order (two admins acting on each other queue instead of deadlocking). */
export async function lockUsers(db: Executor, ids: string[]): Promise<Map<string, UserRow>> {
  const rows = await db.selectFrom('users').selectAll().where('id', 'in', ids).orderBy('id').forUpdate().execute();
  return new Map(rows.map((row) => [row.id, row]));
}
