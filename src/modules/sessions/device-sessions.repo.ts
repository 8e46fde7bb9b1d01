// The device list (sessions.routes.ts, the account pages, the admin's view) and ending a user's
// sessions from it.
import { sql, type Kysely } from 'kysely';
import { preparedStatement } from '../../db/prepared.js';
import type { Database } from '../../db/schema.js';
import { REFRESHABLE_UNTIL, liveSession, refreshableAt } from '../../db/live-session.js';
import type { Aal } from './sessions.repo.js';

type Executor = Kysely<Database>;

/** A session as its owner and the admins see it: never a token or a hash. */
export interface SessionRow {
  id: string;
  user_id: string;
  created_at: Date;
  last_used_at: Date | null;
  ip: string | null;
  last_ip: string | null;
  user_agent: string | null;
  aal: Aal;
  amr: string[];
  revoked_at: Date | null;
}

const SESSION_COLUMN_LIST = 'id, user_id, created_at, last_used_at, ip, last_ip, user_agent, aal, amr, revoked_at';
const SESSION_COLUMNS = sql.raw(SESSION_COLUMN_LIST);

// $1 user id, $2 now. The device list of GET /auth/sessions and of every account page: one
// prepared statement.
const liveSessionsOfUser = preparedStatement<SessionRow>('live_sessions_of_user', `
  SELECT ${SESSION_COLUMN_LIST} FROM sessions
   WHERE sessions.user_id = $1 AND ${REFRESHABLE_UNTIL}$2)
   ORDER BY created_at DESC, id DESC`);

/** The user's live sessions, newest first. */
export async function listLiveSessions(db: Executor, userId: string, now: Date): Promise<SessionRow[]> {
  return liveSessionsOfUser(db, [userId, now]);
}

/** How a session was signed in (aal, amr) and when: the OpenID Provider's acr, amr and auth_time. */
export async function findSessionAssurance(db: Executor, sessionId: string): Promise<{ aal: Aal; amr: string[]; created_at: Date } | undefined> {
  return db.selectFrom('sessions').select(['aal', 'amr', 'created_at']).where('id', '=', sessionId).where(liveSession).executeTakeFirst();
}

/** Every session the user still has a record of, ended ones too (the data export). */
export async function listAllSessions(db: Executor, userId: string): Promise<SessionRow[]> {
  const result = await sql<SessionRow>`
    SELECT ${SESSION_COLUMNS} FROM sessions WHERE user_id = ${userId} ORDER BY created_at DESC, id DESC`.execute(db);
  return result.rows;
}

/** Which of a user's live sessions to end. */
export type SessionScope = { only: string } | { except: string } | 'all';

/**
 * Ends the user's live sessions in `scope` with their refresh tokens, in one statement, and
 * returns the sessions it ended (a session of another user is simply not among them). Access
 * tokens die with their session: requireUser loads the user only while it is live.
 */
export async function revokeUserSessions(
  db: Executor,
  userId: string,
  options: {
    scope: SessionScope;
    now: Date;
    /** Only sessions at this assurance level (enabling MFA ends the other aal1 sessions). */
    onlyAal?: Aal;
  },
): Promise<SessionRow[]> {
  const { scope, now, onlyAal } = options;
  const inScope =
    scope === 'all' ? sql`true` : 'only' in scope ? sql`sessions.id = ${scope.only}` : sql`sessions.id <> ${scope.except}`;
  const atLevel = onlyAal ? sql`sessions.aal = ${onlyAal}` : sql`true`;
  const result = await sql<SessionRow>`
    WITH ended AS (
      UPDATE sessions SET revoked_at = ${now}
       WHERE sessions.user_id = ${userId} AND ${inScope} AND ${atLevel} AND ${refreshableAt(now)}
      RETURNING ${SESSION_COLUMNS}
    ), tokens AS (
      UPDATE refresh_tokens SET revoked_at = ${now}
       WHERE session_id IN (SELECT id FROM ended) AND revoked_at IS NULL
    )
    SELECT ${SESSION_COLUMNS} FROM ended ORDER BY created_at DESC, id DESC`.execute(db);
  return result.rows;
}

export interface SessionsNotUsing {
  userIds: readonly string[];
  method: string;
  now: Date;
}

/**
 * Ends the live sessions of these users that were not made with `method` among their `amr`
 * (enterprise SSO's enforcement: the password, social and passkey sessions go), with their
 * refresh tokens, in one statement.
 */
export async function revokeSessionsNotUsing(db: Executor, { userIds, method, now }: SessionsNotUsing): Promise<SessionRow[]> {
  if (userIds.length === 0) return [];
  const result = await sql<SessionRow>`
    WITH ended AS (
      UPDATE sessions SET revoked_at = ${now}
       WHERE sessions.user_id = ANY(${[...userIds]}::uuid[]) AND NOT (${method} = ANY(sessions.amr)) AND ${refreshableAt(now)}
      RETURNING ${SESSION_COLUMNS}
    ), tokens AS (
      UPDATE refresh_tokens SET revoked_at = ${now}
       WHERE session_id IN (SELECT id FROM ended) AND revoked_at IS NULL
    )
    SELECT ${SESSION_COLUMNS} FROM ended`.execute(db);
  return result.rows;
}

