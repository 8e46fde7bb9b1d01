// What "live" means for a session, once (issue 25). A session is live until it is revoked:
// the access tokens issued under it are accepted (users.repo.ts, requireUser), the hosted pages'
// cookie signs in with it (page-sessions.repo.ts), and it can be ended. Whether it can still be
// *refreshed* is a further condition with its own name: a live refresh token that has not
// expired. The device list shows, and "end my other sessions" ends, only refreshable sessions
// (one whose tokens have all expired is over for its owner, though its row is not revoked).
// SQL text over the sessions table that three modules' repos share (users, sessions, hosted-ui),
// so it sits in db/, below all of them.
import { sql, type RawBuilder } from 'kysely';

/** SQL text over a table named `sessions` (for prepared statements). */
export const LIVE_SESSION = 'sessions.revoked_at IS NULL';

/** The same, for the query builder (`.where(liveSession)`), with the table named `sessions`. */
export const liveSession: RawBuilder<boolean> = sql<boolean>`${sql.raw(LIVE_SESSION)}`;

/**
 * Live and refreshable, up to the moment it is compared with: SQL text to close with the time
 * and `)`, shared by the prepared device list and the builder's `refreshableAt`.
 */
export const REFRESHABLE_UNTIL = `${LIVE_SESSION} AND EXISTS (
  SELECT 1 FROM refresh_tokens t WHERE t.session_id = sessions.id AND t.revoked_at IS NULL AND t.expires_at > `;

export const refreshableAt = (now: Date): RawBuilder<boolean> => sql<boolean>`${sql.raw(REFRESHABLE_UNTIL)}${now})`;
