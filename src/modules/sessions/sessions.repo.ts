// Sessions: starting and ending them, and what they were signed in with. The refresh tokens'
// rotation is in refresh-tokens.repo.ts, the device list in device-sessions.repo.ts, the purge
// in sessions-purge.repo.ts; "live" is defined once, in db/live-session.ts.
import { sql, type Kysely } from 'kysely';
import type { Write } from '../../db/together.js';
import type { Database } from '../../db/schema.js';
import { liveSession } from '../../db/live-session.js';

type Executor = Kysely<Database>;

/** Authenticator assurance level: aal2 once a second factor (or a user-verifying passkey) passed. */
export type Aal = 'aal1' | 'aal2';

export interface NewSession {
  sessionId: string;
  userId: string;
  tokenId: string;
  tokenHash: string;
  /** The refresh token's `iat`: whole seconds, as JWTs carry it. */
  issuedAt: Date;
  /** When the session began, to the millisecond: the device list is newest first by it. */
  startedAt: Date;
  expiresAt: Date;
  ip: string | null;
  userAgent: string | null;
  aal: Aal;
  amr: string[];
}

// A session and its first refresh token: two independent inserts (the token's foreign key is
// checked at the end of the statement they are sent in, after both). Sent together with the
// rest of a sign-in (auth/sign-in.ts), so the texts never vary.
const INSERT_SESSION = `INSERT INTO sessions (id, user_id, created_at, last_used_at, ip, last_ip, user_agent, aal, amr)
    VALUES ($1, $2, $3, $3, $4, $4, $5, $6, $7)`;
const INSERT_FIRST_TOKEN = `INSERT INTO refresh_tokens (id, token_hash, user_id, session_id, issued_at, expires_at)
    VALUES ($1, $2, $3, $4, $5, $6)`;

/** The writes that start a session (db/together.ts). */
export function sessionWrites(s: NewSession): Write[] {
  return [
    { sql: INSERT_SESSION, parameters: [s.sessionId, s.userId, s.startedAt, s.ip, s.userAgent, s.aal, s.amr] },
    { sql: INSERT_FIRST_TOKEN, parameters: [s.tokenId, s.tokenHash, s.userId, s.sessionId, s.issuedAt, s.expiresAt] },
  ];
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
    UPDATE sessions SET revoked_at = ${now} WHERE id = ${sessionId} AND ${liveSession} RETURNING id, user_id, created_at, ip, user_agent, aal, amr
  `.execute(db);
  return result.rows[0];
}

/** Every session of the user: password change or reset, deactivation, suspected theft. */
export async function revokeAllSessions(db: Executor, userId: string, now: Date): Promise<RevokedSession[]> {
  const result = await sql<RevokedSession>`
    WITH t AS (UPDATE refresh_tokens SET revoked_at = ${now} WHERE user_id = ${userId} AND revoked_at IS NULL)
    UPDATE sessions SET revoked_at = ${now} WHERE user_id = ${userId} AND ${liveSession} RETURNING id, user_id, created_at, ip, user_agent, aal, amr
  `.execute(db);
  return result.rows;
}

/** The assurance level of one of the user's sessions (undefined: not theirs, or unknown). */
export async function findSessionAal(db: Executor, userId: string, sessionId: string): Promise<Aal | undefined> {
  const row = await db.selectFrom('sessions').select('aal').where('id', '=', sessionId).where('user_id', '=', userId).executeTakeFirst();
  return row?.aal as Aal | undefined;
}

/**
 * The assurance level of one of the user's live sessions, the row share-locked for the rest of
 * the transaction: a change made on the session's word (a passkey added) commits before, or
 * waits for and sees, whatever ends the session (an account reclaim, enabling MFA).
 */
export async function lockLiveSession(db: Executor, userId: string, sessionId: string): Promise<Aal | undefined> {
  const row = await db
    .selectFrom('sessions')
    .select('aal')
    .where('id', '=', sessionId)
    .where('user_id', '=', userId)
    .where(liveSession)
    .forShare()
    .executeTakeFirst();
  return row?.aal as Aal | undefined;
}
