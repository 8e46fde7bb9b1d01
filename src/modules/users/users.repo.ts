import { sql, type Updateable } from 'kysely';
import { preparedStatement, USERS_COLUMNS } from '../../db/prepared.js';
import type { NewUser, UserRow, UsersTable } from '../../db/schema.js';
import type { Executor } from '../../db/database.js';

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
     AND users.id = (SELECT user_id FROM sessions WHERE id = $2 AND revoked_at IS NULL)`);

/** The user behind an access token, in one statement: only while its session is live.
 *  Every authenticated request runs it, so it is a prepared statement. */
export async function findUserInLiveSession(db: Executor, userId: string, sessionId: string): Promise<UserRow | undefined> {
  return (await userInLiveSession(db, [userId, sessionId]))[0];
}

export async function insertUser(db: Executor, user: NewUser): Promise<UserRow> {
  return db.insertInto('users').values(user).returningAll().executeTakeFirstOrThrow();
}

export async function updateUser(
  db: Executor,
  id: string,
  changes: Updateable<UsersTable>,
  now: Date,
): Promise<UserRow> {
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
