import { sql, type Updateable } from 'kysely';
import { preparedStatement, USERS_COLUMNS } from '../../db/prepared.js';
import type { NewUser, UserRow, UsersTable } from '../../db/schema.js';
import type { Executor } from '../../db/database.js';
import { LIVE_SESSION } from '../../db/live-session.js';

export async function findUserByEmail(db: Executor, email: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where(sql<string>`lower(email)`, '=', email.toLowerCase()).executeTakeFirst();
}

export async function findUserById(db: Executor, id: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
}

// The session is found by its primary key alone, in a scalar subquery (planned on its own, with
// no condition but its own): with `sessions.user_id` a condition of the session's scan (as a
// join on it makes it), the planner may take the per-user partial index (sessions_user_id_idx)
// instead, whose cost follows the user's number of live sessions when statistics are stale
// (test/session-plans.test.ts). A session of another user yields no row, as the join did.
export const userInLiveSession = preparedStatement<UserRow>('user_in_live_session', `
  SELECT ${USERS_COLUMNS}
    FROM users
   WHERE users.id = $1
     AND users.id = (SELECT user_id FROM sessions WHERE id = $2 AND ${LIVE_SESSION})`);

/** The user behind an access token, in one statement: only while its session is live.
 *  Every authenticated request runs it, so it is a prepared statement. */
export async function findUserInLiveSession(db: Executor, userId: string, sessionId: string): Promise<UserRow | undefined> {
  return (await userInLiveSession(db, [userId, sessionId]))[0];
}

export async function insertUser(db: Executor, user: NewUser): Promise<UserRow> {
  return db.insertInto('users').values(user).returningAll().executeTakeFirstOrThrow();
}

/**
 * Many users in one statement (createUsers: an import batch of a thousand or more). The rows go
 * in as one array per column through unnest(), not as a VALUES list: 16 parameters instead of
 * 16 a row, which PostgreSQL parses and binds in a fraction of the time (bench/import.ts).
 */
export async function insertUsers(db: Executor, users: NewUser[]): Promise<UserRow[]> {
  if (users.length === 0) return [];
  if (users.length === 1) return [await insertUser(db, users[0]!)];
  const column = <K extends keyof NewUser>(key: K, fallback: NewUser[K] | null = null) => users.map((user) => user[key] ?? fallback);
  const { rows } = await sql<UserRow>`
    INSERT INTO users (id, email, password_hash, name, role, account_id, account_role, is_active, must_change_password,
                       email_verified_at, invite_code_id, created_at, updated_at, phone, job_title, timezone)
    SELECT * FROM unnest(${column('id')}::uuid[], ${column('email')}::text[], ${column('password_hash')}::text[], ${column('name')}::text[],
                         ${column('role', 'engineer')}::text[], ${column('account_id')}::uuid[], ${column('account_role')}::text[],
                         ${column('is_active', true)}::boolean[], ${column('must_change_password', false)}::boolean[],
                         ${column('email_verified_at')}::timestamptz[], ${column('invite_code_id')}::uuid[],
                         ${column('created_at')}::timestamptz[], ${column('updated_at')}::timestamptz[],
                         ${column('phone')}::text[], ${column('job_title')}::text[], ${column('timezone')}::text[])
    RETURNING ${sql.raw(USERS_COLUMNS.replace(/users\./g, ''))}`.execute(db);
  return rows;
}

export interface UpdateUser {
  id: string;
  changes: Updateable<UsersTable>;
  now: Date;
}

export async function updateUser(db: Executor, { id, changes, now }: UpdateUser): Promise<UserRow> {
  return db
    .updateTable('users')
    .set({ ...changes, updated_at: now })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function linkedProviders(db: Executor, userId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('oauth_identities')
    .select('provider')
    .distinct()
    .where('user_id', '=', userId)
    .orderBy('provider')
    .execute();
  return rows.map((row) => row.provider);
}

/** The user, row-locked for the rest of the transaction. */
export async function lockUser(db: Executor, id: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
}

/** Deletes the user; their sessions, tokens, identities and single-use links go with them (ON DELETE CASCADE). */
export async function deleteUser(db: Executor, id: string): Promise<void> {
  await db.deleteFrom('users').where('id', '=', id).execute();
}

/** The users whose address is on one of these domains (lower-case): SSO enforcement. */
export async function listUserIdsOnDomains(db: Executor, domains: readonly string[]): Promise<string[]> {
  if (domains.length === 0) return [];
  const rows = await db
    .selectFrom('users')
    .select('id')
    .where(sql<string>`split_part(lower(email), '@', 2)`, 'in', [...domains])
    .execute();
  return rows.map((row) => row.id);
}
