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

const userInLiveSession = preparedStatement<UserRow>('user_in_live_session', `
  SELECT ${USERS_COLUMNS}
    FROM users JOIN sessions ON sessions.user_id = users.id
   WHERE users.id = $1 AND sessions.id = $2 AND sessions.revoked_at IS NULL`);

/** The user behind an access token, in one statement: only while its session is live.
 *  Every authenticated request runs it, so it is a prepared statement. */
export async function findUserInLiveSession(db: Executor, userId: string, sessionId: string): Promise<UserRow | undefined> {
  return (await userInLiveSession(db, [userId, sessionId]))[0];
}

export async function insertUser(db: Executor, user: NewUser): Promise<UserRow> {
  return db.insertInto('users').values(user).returningAll().executeTakeFirstOrThrow();
}

/** Many users in one multi-row statement (an import batch: up to a few thousand rows). */
export async function insertUsers(db: Executor, users: NewUser[]): Promise<UserRow[]> {
  if (users.length === 0) return [];
  return db.insertInto('users').values(users).returningAll().execute();
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
