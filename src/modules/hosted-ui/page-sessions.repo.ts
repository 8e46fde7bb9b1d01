// The only place that reads and writes ui_sessions (migrations/0010_hosted_ui.sql).
import { preparedStatement, USERS_COLUMNS } from '../../db/prepared.js';
import type { Executor } from '../../db/database.js';
import type { Database, UserRow } from '../../db/schema.js';
import { sql, type ExpressionBuilder } from 'kysely';
import { LIVE_SESSION, liveSession } from '../../db/live-session.js';
import type { RetentionRule } from '../retention/retention-rules.js';

export async function insertPageSession(
  db: Executor,
  row: { cookieHash: string; sessionId: string; expiresAt: Date },
): Promise<void> {
  await db.insertInto('ui_sessions').values({ cookie_hash: row.cookieHash, session_id: row.sessionId, expires_at: row.expiresAt }).execute();
}

export type PageSessionUser = UserRow & { page_session_id: string };

// $1 cookie hash, $2 now. Signed in only while the Keyhold session is live: every page of a
// signed-in user runs this, so it is one prepared statement.
const userOfPageSession = preparedStatement<PageSessionUser>('user_of_page_session', `
  SELECT ${USERS_COLUMNS}, sessions.id AS page_session_id
    FROM ui_sessions
    JOIN sessions ON sessions.id = ui_sessions.session_id AND ${LIVE_SESSION}
    JOIN users ON users.id = sessions.user_id
   WHERE ui_sessions.cookie_hash = $1 AND ui_sessions.expires_at > $2`);

export async function findUserOfPageSession(db: Executor, cookieHash: string, now: Date): Promise<PageSessionUser | undefined> {
  return (await userOfPageSession(db, [cookieHash, now]))[0];
}

export async function deletePageSession(db: Executor, cookieHash: string): Promise<void> {
  await db.deleteFrom('ui_sessions').where('cookie_hash', '=', cookieHash).execute();
}

// Rows whose cookie has expired or whose session has ended: the pages no longer sign anyone in with them.
const stale = (now: Date) => (eb: ExpressionBuilder<Database, 'ui_sessions'>) =>
  eb.or([eb('expires_at', '<=', now), eb('session_id', 'in', eb.selectFrom('sessions').select('id').where(sql<boolean>`NOT (${liveSession})`))]);

/** Deletes the stale rows (one statement; the table holds one row per signed-in browser); returns how many went. */
export async function purgeStalePageSessions(db: Executor, now: Date): Promise<number> {
  const result = await db.deleteFrom('ui_sessions').where(stale(now)).executeTakeFirst();
  return Number(result.numDeletedRows);
}

export async function countStalePageSessions(db: Executor, now: Date): Promise<number> {
  const row = await db.selectFrom('ui_sessions').select((eb) => eb.fn.countAll<string>().as('n')).where(stale(now)).executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Retention (modules/retention), with the hosted pages on: stale rows at every run, all at once. */
export const pageSessionRetention: RetentionRule = {
  name: 'ui_sessions',
  rules: { ui_sessions: 'once the cookie has expired or its session has ended' },
  batch: async (db, now) => ({ removed: { ui_sessions: await purgeStalePageSessions(db, now) }, more: false }),
  count: async (db, now) => ({ ui_sessions: await countStalePageSessions(db, now) }),
};
