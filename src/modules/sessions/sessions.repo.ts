// The only place that reads and writes sessions and refresh_tokens.
import { sql, type Kysely } from 'kysely';
import { preparedStatement } from '../../db/prepared.js';
import type { Database } from '../../db/schema.js';

type Executor = Kysely<Database>;

export interface NewSession {
  sessionId: string;
  userId: string;
  tokenId: string;
  tokenHash: string;
  issuedAt: Date;
  expiresAt: Date;
}

// $1 session id, $2 user id, $3 issued at, $4 token id, $5 token hash, $6 expires at.
const sessionStart = preparedStatement('insert_session', `
  WITH session AS (
    INSERT INTO sessions (id, user_id, created_at) VALUES ($1, $2, $3)
  )
  INSERT INTO refresh_tokens (id, token_hash, user_id, session_id, issued_at, expires_at)
  VALUES ($4, $5, $2, $1, $3, $6)`);

export async function insertSession(db: Executor, s: NewSession): Promise<void> {
  await sessionStart(db, [s.sessionId, s.userId, s.issuedAt, s.tokenId, s.tokenHash, s.expiresAt]);
}

export interface Rotation {
  parentHash: string;
  userId: string;
  childId: string;
  childHash: string;
  issuedAt: Date;
  expiresAt: Date;
  now: Date;
}

export interface RotatedSession {
  session_id: string;
  must_change_password: boolean;
}

// $1 now, $2 child id, $3 parent hash, $4 user id, $5 child hash, $6 issued at, $7 expires at.
const rotation = preparedStatement<RotatedSession>('rotate_refresh_token', `
  WITH parent AS (
    UPDATE refresh_tokens
       SET revoked_at = $1, replaced_by_id = $2
     WHERE token_hash = $3
       AND user_id = $4
       AND revoked_at IS NULL
       AND expires_at > $1
       AND EXISTS (SELECT 1 FROM users u WHERE u.id = refresh_tokens.user_id AND u.is_active)
    RETURNING id, user_id, session_id
  ), child AS (
    INSERT INTO refresh_tokens (id, token_hash, user_id, session_id, parent_id, issued_at, expires_at)
    SELECT $2, $5, user_id, session_id, id, $6, $7 FROM parent
    RETURNING user_id, session_id
  )
  SELECT child.session_id, u.must_change_password
    FROM child JOIN users u ON u.id = child.user_id`);

/**
 * Revokes the presented refresh token and inserts its successor in one statement. The
 * conditional UPDATE is the lock: of two concurrent rotations of one token, the second
 * waits for the first, re-reads `revoked_at`, matches nothing and inserts nothing.
 */
export async function rotateRefreshToken(db: Executor, r: Rotation): Promise<RotatedSession | undefined> {
  const rows = await rotation(db, [r.now, r.childId, r.parentHash, r.userId, r.childHash, r.issuedAt, r.expiresAt]);
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
}

/** A refresh token that failed to rotate, with its successor, to tell reuse from theft. */
export async function findPresentedToken(db: Executor, tokenHash: string): Promise<PresentedToken | undefined> {
  const result = await sql<PresentedToken>`
    SELECT t.id, t.user_id, t.session_id, t.revoked_at,
           u.id IS NOT NULL AS user_exists, u.is_active AS user_active, u.must_change_password,
           c.id IS NOT NULL AS has_child, c.revoked_at AS child_revoked_at,
           c.issued_at AS child_issued_at, c.expires_at AS child_expires_at
      FROM refresh_tokens t
      LEFT JOIN users u ON u.id = t.user_id
      LEFT JOIN refresh_tokens c ON c.id = t.replaced_by_id
     WHERE t.token_hash = ${tokenHash}
  `.execute(db);
  return result.rows[0];
}

/** Ends a session and its refresh tokens; true when it was still live. */
export async function revokeSession(db: Executor, sessionId: string, now: Date): Promise<boolean> {
  const result = await sql<{ id: string }>`
    WITH t AS (UPDATE refresh_tokens SET revoked_at = ${now} WHERE session_id = ${sessionId} AND revoked_at IS NULL)
    UPDATE sessions SET revoked_at = ${now} WHERE id = ${sessionId} AND revoked_at IS NULL RETURNING id
  `.execute(db);
  return result.rows.length > 0;
}

/** Every session of the user: password change or reset, deactivation, suspected theft. */
export async function revokeAllSessions(db: Executor, userId: string, now: Date): Promise<void> {
  await sql`
    WITH s AS (UPDATE sessions SET revoked_at = ${now} WHERE user_id = ${userId} AND revoked_at IS NULL)
    UPDATE refresh_tokens SET revoked_at = ${now} WHERE user_id = ${userId} AND revoked_at IS NULL
  `.execute(db);
}

export async function findSessionOfToken(db: Executor, tokenHash: string): Promise<{ session_id: string; user_id: string } | undefined> {
  return db.selectFrom('refresh_tokens').select(['session_id', 'user_id']).where('token_hash', '=', tokenHash).executeTakeFirst();
}
