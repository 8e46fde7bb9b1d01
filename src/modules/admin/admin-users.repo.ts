// Platform-wide user queries for administrators (users.repo.ts holds the per-user ones).
import { sql } from 'kysely';
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

// The console's user list: by email, in byte order ("C" collation), so that one index
// (users_email_prefix_idx, migrations/0018) serves the prefix match, the order and the keyset
// cursor alike, whatever the database's collation.
const EMAIL_KEY = sql<string>`lower(email) COLLATE "C"`;

/** What a list of users shows (not the whole row: fewer columns to read and parse per row). */
export type UserListItem = Pick<UserRow, 'id' | 'email' | 'name' | 'role' | 'is_active' | 'account_id' | 'last_login' | 'created_at'>;

/** Users whose email starts with `prefix` (LIKE wildcards in it are literal), after the email `after`. */
export async function searchUsersByEmailPrefix(db: Executor, filter: { prefix: string; after?: string; limit: number }): Promise<UserListItem[]> {
  let query = db.selectFrom('users').select(['id', 'email', 'name', 'role', 'is_active', 'account_id', 'last_login', 'created_at']);
  if (filter.prefix) query = query.where(sql<boolean>`${EMAIL_KEY} LIKE ${`${filter.prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`}`);
  if (filter.after !== undefined) query = query.where(sql<boolean>`${EMAIL_KEY} > ${filter.after}`);
  return query.orderBy(EMAIL_KEY).limit(filter.limit).execute();
}

/** The emails of the users with these ids (one query for a page of audit rows, not one per row). */
export async function findEmailsOfUsers(db: Executor, ids: readonly string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const rows = await db.selectFrom('users').select(['id', 'email']).where('id', 'in', [...ids]).execute();
  return new Map(rows.map((row) => [row.id, row.email]));
}
