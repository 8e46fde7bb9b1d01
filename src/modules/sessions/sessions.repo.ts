// The only place that reads and writes sessions and refresh_tokens.
import { sql, type Kysely } from 'kysely';
import { preparedStatement } from '../../db/prepared.js';
import type { Database } from '../../db/schema.js';
import type { AccountClaims } from '../../lib/tokens.js';

type Executor = Kysely<Database>;

/** Authenticator assurance level: aal2 once a second factor (or a user-verifying passkey) passed. */
export type Aal = 'aal1' | 'aal2';

export interface NewSession {
  sessionId: string;
  userId: string;
  tokenId: string;
  tokenHash: string;
  issuedAt: Date;
  expiresAt: Date;
  ip: string | null;
  userAgent: string | null;
  aal: Aal;
  amr: string[];
}

// $1 session id, $2 user id, $3 issued at, $4 token id, $5 token hash, $6 expires at, $7 ip,
// $8 user agent, $9 aal, $10 amr.
const sessionStart = preparedStatement('insert_session', `
  WITH session AS (
    INSERT INTO sessions (id, user_id, created_at, last_used_at, ip, last_ip, user_agent, aal, amr)
    VALUES ($1, $2, $3, $3, $7, $7, $8, $9, $10)
  )
  INSERT INTO refresh_tokens (id, token_hash, user_id, session_id, issued_at, expires_at)
  VALUES ($4, $5, $2, $1, $3, $6)`);

export async function insertSession(db: Executor, s: NewSession): Promise<void> {
  await sessionStart(db, [s.sessionId, s.userId, s.issuedAt, s.tokenId, s.tokenHash, s.expiresAt, s.ip, s.userAgent, s.aal, s.amr]);
}

export interface Rotation {
  parentHash: string;
  userId: string;
  childId: string;
  childHash: string;
  issuedAt: Date;
  expiresAt: Date;
  now: Date;
  /** The refreshing client's address, kept as the session's last IP. */
  ip: string | null;
}

export interface RotatedSession extends AccountClaims {
  session_id: string;
  must_change_password: boolean;
  aal: Aal;
  amr: string[];
}

// $1 now, $2 child id, $3 parent hash, $4 user id, $5 child hash, $6 issued at, $7 expires at,
// $8 ip. The session is touched by its primary key, in the same statement.
//
// Every row is reached through a unique key, whatever the statistics say. The presented token
// is found by its hash alone in a MATERIALIZED CTE (the planner pushes no outer condition into
// it); the owner check runs on that row in a scalar subquery (planned on its own); and the
// UPDATE targets the row by `id = <that value>`, which only the primary key answers. Were
// `user_id = $4` a condition of the token's own scan, the planner could take the per-user
// partial index (refresh_tokens_user_id_idx) instead, smaller and as cheap on paper, whose cost
// follows the user's number of live sessions; and were the row joined to the CTE rather than
// compared with a value, a table without statistics (a young database) is scanned through that
// index whole (test/session-plans.test.ts). `revoked_at IS NULL` is re-checked on the locked
// row, so of two concurrent rotations of one token the second still matches nothing.
export const rotation = preparedStatement<RotatedSession>('rotate_refresh_token', `
  WITH presented AS MATERIALIZED (
    SELECT id, user_id FROM refresh_tokens WHERE token_hash = $3
  ), parent AS (
    UPDATE refresh_tokens
       SET revoked_at = $1, replaced_by_id = $2
     WHERE id = (
             SELECT presented.id FROM presented JOIN users u ON u.id = presented.user_id
              WHERE presented.user_id = $4 AND u.is_active
           )
       AND revoked_at IS NULL
       AND expires_at > $1
    RETURNING id, user_id, session_id
  ), child AS (
    INSERT INTO refresh_tokens (id, token_hash, user_id, session_id, parent_id, issued_at, expires_at)
    SELECT $2, $5, user_id, session_id, id, $6, $7 FROM parent
    RETURNING user_id, session_id
  ), session AS (
    UPDATE sessions SET last_used_at = $1, last_ip = $8
     WHERE id = (SELECT session_id FROM parent)
    RETURNING id, aal, amr
  )
  SELECT child.session_id, u.must_change_password, session.aal, session.amr, u.account_id, u.account_role, u.role
    FROM child
    JOIN session ON session.id = child.session_id
    JOIN users u ON u.id = child.user_id`);

/**
 * Revokes the presented refresh token and inserts its successor in one statement. The
 * conditional UPDATE is the lock: of two concurrent rotations of one token, the second
 * waits for the first, re-reads `revoked_at`, matches nothing and inserts nothing.
 */
export async function rotateRefreshToken(db: Executor, r: Rotation): Promise<RotatedSession | undefined> {
  const rows = await rotation(db, [r.now, r.childId, r.parentHash, r.userId, r.childHash, r.issuedAt, r.expiresAt, r.ip]);
  return rows[0];
}

export interface PresentedToken {
  id: string;
  user_id: string;
  session_id: string;
  revoked_at: Date | null;
  user_exists: boolean;
  user_active: boolean | null;
  must_change_password: boolean | null;
  child_revoked_at: Date | null;
  child_issued_at: Date | null;
  child_expires_at: Date | null;
  has_child: boolean;
  aal: Aal;
  amr: string[];
  /** Null when the user no longer exists. */
  account_id: string | null;
  account_role: AccountClaims['account_role'] | null;
  role: AccountClaims['role'] | null;
}

/** A refresh token that failed to rotate, with its successor, to tell reuse from theft. */
export async function findPresentedToken(db: Executor, tokenHash: string): Promise<PresentedToken | undefined> {
  const result = await sql<PresentedToken>`
    SELECT t.id, t.user_id, t.session_id, t.revoked_at,
           u.id IS NOT NULL AS user_exists, u.is_active AS user_active, u.must_change_password,
           c.id IS NOT NULL AS has_child, c.revoked_at AS child_revoked_at,
           c.issued_at AS child_issued_at, c.expires_at AS child_expires_at, s.aal, s.amr,
           u.account_id, u.account_role, u.role
      FROM refresh_tokens t
      JOIN sessions s ON s.id = t.session_id
      LEFT JOIN users u ON u.id = t.user_id
      LEFT JOIN refresh_tokens c ON c.id = t.replaced_by_id
     WHERE t.token_hash = ${tokenHash}
  `.execute(db);
  return result.rows[0];
}

/** A session just ended (for its session.revoked event). */
export interface RevokedSession {
  id: string;
  user_id: string;
  created_at: Date;
  ip: string | null;
  user_agent: string | null;
  aal: Aal;
  amr: string[];
}

/** Ends a session and its refresh tokens; the session when it was still live. */
export async function revokeSession(db: Executor, sessionId: string, now: Date): Promise<RevokedSession | undefined> {
  const result = await sql<RevokedSession>`
    WITH t AS (UPDATE refresh_tokens SET revoked_at = ${now} WHERE session_id = ${sessionId} AND revoked_at IS NULL)
    UPDATE sessions SET revoked_at = ${now} WHERE id = ${sessionId} AND revoked_at IS NULL RETURNING id, user_id, created_at, ip, user_agent, aal, amr
  `.execute(db);
  return result.rows[0];
}

/** Every session of the user: password change or reset, deactivation, suspected theft. */
export async function revokeAllSessions(db: Executor, userId: string, now: Date): Promise<RevokedSession[]> {
  const result = await sql<RevokedSession>`
    WITH t AS (UPDATE refresh_tokens SET revoked_at = ${now} WHERE user_id = ${userId} AND revoked_at IS NULL)
    UPDATE sessions SET revoked_at = ${now} WHERE user_id = ${userId} AND revoked_at IS NULL RETURNING id, user_id, created_at, ip, user_agent, aal, amr
  `.execute(db);
  return result.rows;
}

export async function findSessionOfToken(db: Executor, tokenHash: string): Promise<{ session_id: string; user_id: string } | undefined> {
  return db.selectFrom('refresh_tokens').select(['session_id', 'user_id']).where('token_hash', '=', tokenHash).executeTakeFirst();
}

// ---- the device list (sessions.routes.ts) ------------------------------------------------

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

/** A session can still be used: not revoked, and its live refresh token not expired. The text
 *  up to the time it is compared with, shared by the query builder's fragment and the prepared
 *  statement below, so the rule is written once. */
const LIVE_UNTIL = `sessions.revoked_at IS NULL AND EXISTS (
  SELECT 1 FROM refresh_tokens t WHERE t.session_id = sessions.id AND t.revoked_at IS NULL AND t.expires_at > `;
const isLive = (now: Date) => sql`${sql.raw(LIVE_UNTIL)}${now})`;

// $1 user id, $2 now. The device list of GET /auth/sessions and of every account page: one
// prepared statement.
const liveSessionsOfUser = preparedStatement<SessionRow>('live_sessions_of_user', `
  SELECT ${SESSION_COLUMN_LIST} FROM sessions
   WHERE sessions.user_id = $1 AND ${LIVE_UNTIL}$2)
   ORDER BY created_at DESC, id DESC`);

/** The user's live sessions, newest first. */
export async function listLiveSessions(db: Executor, userId: string, now: Date): Promise<SessionRow[]> {
  return liveSessionsOfUser(db, [userId, now]);
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
export async function revokeUserSessions(db: Executor, userId: string, scope: SessionScope, now: Date): Promise<SessionRow[]> {
  const inScope =
    scope === 'all' ? sql`true` : 'only' in scope ? sql`sessions.id = ${scope.only}` : sql`sessions.id <> ${scope.except}`;
  const result = await sql<SessionRow>`
    WITH ended AS (
      UPDATE sessions SET revoked_at = ${now}
       WHERE sessions.user_id = ${userId} AND ${inScope} AND ${isLive(now)}
      RETURNING ${SESSION_COLUMNS}
    ), tokens AS (
      UPDATE refresh_tokens SET revoked_at = ${now}
       WHERE session_id IN (SELECT id FROM ended) AND revoked_at IS NULL
    )
    SELECT ${SESSION_COLUMNS} FROM ended ORDER BY created_at DESC, id DESC`.execute(db);
  return result.rows;
}

// ---- retention (modules/retention) -----------------------------------------------------
//
// A session's refresh tokens go together, never one at a time. While any token of a family can
// still be presented, every rotated one must stay findable, so that presenting it is caught as
// reuse and ends the session. Once the newest has expired, nothing of the family can be presented
// any more: a token past its `exp` fails verification before the database is asked (and rotation
// checks `expires_at` too). The newest token of a family is the one never replaced
// (`replaced_by_id IS NULL`, indexed by expiry); the family is dead only when no token of it is
// still valid (its greatest `expires_at`, should an older one outlive the newest after
// REFRESH_TOKEN_EXPIRE_DAYS was lowered).
//
// A batch is one statement. Large families span batches: the newest token goes last, in the
// batch that removes the family's last other token, so a family half purged is still found by
// its newest token. Every row it deletes is locked first with SKIP LOCKED: a batch never waits
// for a request's transaction (nor another purger), so it can take part in no deadlock; it
// leaves those rows to the next batch. Rows are deleted by the ctid they were locked at.

export interface FamilyPurge {
  refreshTokens: number;
  sessions: number;
  /** The batch stopped at its limit: there may be more. */
  more: boolean;
}

/**
 * One batch: up to `limit` tokens of families whose newest token expired at or before `now`,
 * plus the newest token of each family this empties (at most `limit` families) and its session
 * if it was never revoked (a revoked one stays for purgeRevokedSessions).
 */
export async function purgeExpiredRefreshFamilies(db: Executor, now: Date, limit: number): Promise<FamilyPurge> {
  const result = await sql<{ refresh_tokens: number; sessions: number; more: boolean }>`
    WITH candidates AS (
      -- Read (and locked) lazily: only as far as the LIMIT of "older" needs.
      SELECT h.ctid AS newest, h.id AS newest_id, h.session_id, f.size
        FROM refresh_tokens h
       CROSS JOIN LATERAL (
         SELECT max(l.expires_at) AS last_expiry, count(*) AS size FROM refresh_tokens l WHERE l.session_id = h.session_id
       ) f
       WHERE h.replaced_by_id IS NULL
         AND h.expires_at <= ${now}
         AND f.last_expiry <= ${now}
       ORDER BY h.expires_at
       LIMIT ${limit}
         FOR UPDATE OF h SKIP LOCKED
    ), numbered AS (
      SELECT newest, newest_id, session_id, size, row_number() OVER () AS ord FROM candidates
    ), older AS (
      SELECT n.ord, o.ctid
        FROM numbered n
       CROSS JOIN LATERAL (
         SELECT t.ctid FROM refresh_tokens t
          WHERE n.size > 1 AND t.session_id = n.session_id AND t.id <> n.newest_id
            FOR UPDATE SKIP LOCKED
       ) o
       LIMIT ${limit}
    ), reached AS (
      -- Families whose other tokens were all looked at: every candidate, unless the limit
      -- stopped inside one.
      SELECT CASE WHEN count(*) < ${limit} THEN ${limit} ELSE max(ord) - 1 END AS families FROM older
    ), emptied AS (
      -- Of those, the families this batch takes every other token of (none left to a
      -- transaction that holds it): their newest token goes too, and the session unless revoked.
      SELECT n.newest, s.ctid AS session, s.revoked_at
        FROM (SELECT newest, session_id, size, ord FROM numbered LIMIT (SELECT families FROM reached)) n
        JOIN sessions s ON s.id = n.session_id
        LEFT JOIN (SELECT ord, count(*) AS taken FROM older GROUP BY ord) f ON f.ord = n.ord
       WHERE n.size = coalesce(f.taken, 0) + 1
         FOR UPDATE OF s SKIP LOCKED
    ), tokens AS (
      DELETE FROM refresh_tokens
       WHERE ctid = ANY (ARRAY(SELECT ctid FROM older UNION ALL SELECT newest FROM emptied))
      RETURNING 1
    ), ended AS (
      DELETE FROM sessions WHERE ctid = ANY (ARRAY(SELECT session FROM emptied WHERE revoked_at IS NULL)) RETURNING 1
    )
    SELECT (SELECT count(*) FROM tokens)::int AS refresh_tokens,
           (SELECT count(*) FROM ended)::int AS sessions,
           CASE WHEN (SELECT count(*) FROM older) = ${limit} THEN true
                ELSE (SELECT count(*) FROM candidates) = ${limit} END AS more
  `.execute(db);
  const row = result.rows[0]!;
  return { refreshTokens: row.refresh_tokens, sessions: row.sessions, more: row.more };
}

/** What purgeExpiredRefreshFamilies would remove at `now`, all batches together (a dry run). */
export async function countExpiredRefreshFamilies(db: Executor, now: Date): Promise<{ refreshTokens: number; sessions: number }> {
  const result = await sql<{ refresh_tokens: number; sessions: number }>`
    WITH dead AS (
      SELECT h.session_id
        FROM refresh_tokens h
       WHERE h.replaced_by_id IS NULL
         AND h.expires_at <= ${now}
         AND (SELECT max(l.expires_at) FROM refresh_tokens l WHERE l.session_id = h.session_id) <= ${now}
    )
    SELECT (SELECT count(*) FROM refresh_tokens t JOIN dead d ON d.session_id = t.session_id)::int AS refresh_tokens,
           (SELECT count(*) FROM sessions s JOIN dead d ON d.session_id = s.id WHERE s.revoked_at IS NULL)::int AS sessions
  `.execute(db);
  const row = result.rows[0]!;
  return { refreshTokens: row.refresh_tokens, sessions: row.sessions };
}

/**
 * One batch of sessions revoked before `before`, oldest first, with their tokens: up to `limit`
 * tokens (usually none are left: they went when the newest expired), and each session whose
 * last tokens this removes (at most `limit`). A revoked session's tokens all fail to refresh,
 * found or not, so none of them is needed for reuse detection.
 */
export async function purgeRevokedSessions(db: Executor, before: Date, limit: number): Promise<FamilyPurge> {
  const result = await sql<{ refresh_tokens: number; sessions: number; more: boolean }>`
    WITH candidates AS (
      SELECT s.ctid AS session, s.id, f.size
        FROM sessions s
       CROSS JOIN LATERAL (SELECT count(*) AS size FROM refresh_tokens l WHERE l.session_id = s.id) f
       WHERE s.revoked_at < ${before}
       ORDER BY s.revoked_at
       LIMIT ${limit}
         FOR UPDATE OF s SKIP LOCKED
    ), numbered AS (
      SELECT session, id, size, row_number() OVER () AS ord FROM candidates
    ), family AS (
      SELECT n.ord, o.ctid
        FROM numbered n
       CROSS JOIN LATERAL (SELECT t.ctid FROM refresh_tokens t WHERE n.size > 0 AND t.session_id = n.id FOR UPDATE SKIP LOCKED) o
       LIMIT ${limit}
    ), reached AS (
      SELECT CASE WHEN count(*) < ${limit} THEN ${limit} ELSE max(ord) - 1 END AS sessions FROM family
    ), emptied AS (
      SELECT n.session
        FROM (SELECT session, size, ord FROM numbered LIMIT (SELECT sessions FROM reached)) n
        LEFT JOIN (SELECT ord, count(*) AS taken FROM family GROUP BY ord) f ON f.ord = n.ord
       WHERE n.size = coalesce(f.taken, 0)
    ), tokens AS (
      DELETE FROM refresh_tokens WHERE ctid = ANY (ARRAY(SELECT ctid FROM family)) RETURNING 1
    ), ended AS (
      DELETE FROM sessions WHERE ctid = ANY (ARRAY(SELECT session FROM emptied)) RETURNING 1
    )
    SELECT (SELECT count(*) FROM tokens)::int AS refresh_tokens,
           (SELECT count(*) FROM ended)::int AS sessions,
           CASE WHEN (SELECT count(*) FROM family) = ${limit} THEN true
                ELSE (SELECT count(*) FROM candidates) = ${limit} END AS more
  `.execute(db);
  const row = result.rows[0]!;
  return { refreshTokens: row.refresh_tokens, sessions: row.sessions, more: row.more };
}

/**
 * What purgeRevokedSessions would remove, all batches together (a dry run): the sessions, and
 * those of their tokens that countExpiredRefreshFamilies at `now` does not count already.
 */
export async function countRevokedSessions(db: Executor, before: Date, now: Date): Promise<{ refreshTokens: number; sessions: number }> {
  const result = await sql<{ refresh_tokens: number; sessions: number }>`
    SELECT (SELECT count(*) FROM sessions WHERE revoked_at < ${before})::int AS sessions,
           (SELECT count(*)
              FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id
             WHERE s.revoked_at < ${before}
               AND (SELECT max(l.expires_at) FROM refresh_tokens l WHERE l.session_id = s.id) > ${now})::int AS refresh_tokens
  `.execute(db);
  const row = result.rows[0]!;
  return { refreshTokens: row.refresh_tokens, sessions: row.sessions };
}
