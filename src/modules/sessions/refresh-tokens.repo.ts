// Refresh tokens: rotation (one statement) and what a presented token is. Sessions are
// started and ended in sessions.repo.ts.
import { sql, type Kysely } from 'kysely';
import { preparedStatement } from '../../db/prepared.js';
import type { Database } from '../../db/schema.js';
import type { AccountClaims } from '../../lib/tokens.js';
import type { Aal } from './sessions.repo.js';

type Executor = Kysely<Database>;

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

export async function findSessionOfToken(db: Executor, tokenHash: string): Promise<{ session_id: string; user_id: string } | undefined> {
  return db.selectFrom('refresh_tokens').select(['session_id', 'user_id']).where('token_hash', '=', tokenHash).executeTakeFirst();
}
