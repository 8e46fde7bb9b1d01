// session.created / session.revoked data from a session row, and the one call that announces
// sessions ended by a change (logout, password change or reset, deactivation, removal).
import type { Executor } from '../../db/database.js';
import type { Clock } from '../../lib/clock.js';
import { enqueue } from '../jobs/jobs.repo.js';
import { emitEvent } from './emit-event.js';
import type { SessionEventData } from './event-types.js';

/** What a session row offers; the recording columns (ip, user_agent, aal, amr) may be absent. */
export interface SessionSource {
  id: string;
  user_id: string;
  created_at: Date;
  ip?: string | null;
  user_agent?: string | null;
  aal?: string | null;
  amr?: string[] | null;
}

export const sessionEventData = (session: SessionSource): SessionEventData => ({
  id: session.id,
  user_id: session.user_id,
  created_at: session.created_at.toISOString(),
  ip: session.ip ?? null,
  user_agent: session.user_agent ?? null,
  aal: session.aal ?? 'aal1',
  amr: session.amr ?? [],
});

/** What the `sessions-ended` job carries: the Keyhold sessions that just ended. */
export interface SessionsEndedPayload {
  session_ids: string[];
  reason: string;
}

declare module '../jobs/jobs.types.js' {
  interface JobPayloads {
    'sessions-ended': SessionsEndedPayload;
  }
}

export interface SessionsRevoked {
  sessions: readonly SessionSource[];
  reason: string;
}

/**
 * One session.revoked per session, in the transaction that ended them, and one `sessions-ended`
 * job for them all: whatever else must follow a session's end (the OpenID Provider's sessions
 * and back-channel logout, modules/oidc-provider) runs from it, so every way a session ends
 * passes through here.
 */
export async function emitSessionsRevoked(ctx: { clock: Clock }, trx: Executor, { sessions, reason }: SessionsRevoked): Promise<void> {
  for (const session of sessions) await emitEvent(ctx, trx, { type: 'session.revoked', data: { ...sessionEventData(session), reason } });
  if (sessions.length > 0) await enqueue(trx, 'sessions-ended', { session_ids: sessions.map((session) => session.id), reason });
}
