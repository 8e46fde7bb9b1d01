// Retention of sessions and refresh tokens: the purge's SQL (the rules are in
// sessions-retention.ts).
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';

type Executor = Kysely<Database>;

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
