// Platform-wide user queries for administrators (users.repo.ts holds the per-user ones).
import type { UserRow } from '../../db/schema.js';
import { preparedStatement } from '../../db/prepared.js';
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

/** What the console's list of users shows (not the whole row: fewer columns to read and parse per row). */
export type UserListItem = Pick<UserRow, 'id' | 'email' | 'name' | 'role' | 'is_active' | 'last_login'>;

// Every page of the console's user list runs it: prepared (db/prepared.ts), one text for every
// filter. The bounds are plain comparisons on users_email_prefix_idx (migration 0018), so even
// the generic plan walks the index from the first email in range and stops after `limit`:
// $1 the prefix (or ''), $2 the first string past every email with that prefix (or a bound past
// every email), $3 the cursor (the last email shown, or ''), $4 the limit.
export const usersByEmailPrefix = preparedStatement<UserListItem>('users_by_email_prefix', `
  SELECT id, email, name, role, is_active, last_login FROM users
   WHERE lower(email) COLLATE "C" >= $1::text AND lower(email) COLLATE "C" < $2::text AND lower(email) COLLATE "C" > $3::text
   ORDER BY lower(email) COLLATE "C"
   LIMIT $4::int`);

/** Past every lower-cased email in byte order (U+10FFFF, the last code point, is in none). */
const PAST_EVERY_EMAIL = '\u{10FFFF}';

/** The first string after every string that starts with `prefix`, in byte ("C") order: the
 *  prefix with its last code point moved on by one (UTF-8 byte order is code point order). */
export function pastPrefix(prefix: string): string {
  const points = [...prefix];
  while (points.length > 0) {
    const last = points.pop()!.codePointAt(0)!;
    // The last code point carries into the one before it; the surrogate range holds none.
    if (last < 0x10ffff) return points.join('') + String.fromCodePoint(last === 0xd7ff ? 0xe000 : last + 1);
  }
  return PAST_EVERY_EMAIL;
}

/** Users whose email starts with `prefix` (taken literally), after the email `after`, in email order. */
export async function searchUsersByEmailPrefix(db: Executor, filter: { prefix: string; after?: string; limit: number }): Promise<UserListItem[]> {
  return usersByEmailPrefix(db, [filter.prefix, pastPrefix(filter.prefix), filter.after ?? '', filter.limit]);
}

/** The emails of the users with these ids (one query for a page of audit rows, not one per row). */
export async function findEmailsOfUsers(db: Executor, ids: readonly string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const rows = await db.selectFrom('users').select(['id', 'email']).where('id', 'in', [...ids]).execute();
  return new Map(rows.map((row) => [row.id, row.email]));
}
