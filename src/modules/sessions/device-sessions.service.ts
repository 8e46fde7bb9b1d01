// The sessions a user can see and end (GET/DELETE /auth/sessions, revoke-others) and their
// admin counterparts. Ending a session revokes its refresh tokens and, because requireUser
// loads the user only while the token's session is live, its access tokens at once.
import type { AppContext, RequestMeta } from '../../context.js';
import { Errors } from '../../lib/errors.js';
import type { AuditAction } from '../audit/audit-actions.js';
import { recordAudit } from '../audit/audit.repo.js';
import { findUserById } from '../users/users.repo.js';
import { listLiveSessions, revokeUserSessions, type SessionRow, type SessionScope } from './device-sessions.repo.js';
import { emitSessionsRevoked } from '../events/session-events.js';
import { inUnitOfWork } from '../../db/unit-of-work.js';

type Deps = Pick<AppContext, 'db' | 'clock' | 'jobs'>;

/** Why sessions ended, as `session.revoked` events say it. */
export type RevocationReason = 'revoked_by_user' | 'revoked_by_admin' | 'user_deleted';

export async function listSessions(ctx: Pick<AppContext, 'db' | 'clock'>, userId: string): Promise<SessionRow[]> {
  return listLiveSessions(ctx.db, userId, ctx.clock.now());
}

export interface EndOwnSession {
  userId: string;
  sessionId: string;
  meta: RequestMeta;
}

/** One of the caller's own sessions (the current one included, like a logout); 404 otherwise. */
export async function endOwnSession(ctx: Deps, { userId, sessionId, meta }: EndOwnSession): Promise<void> {
  const ended = await endSessions(ctx, { userId, scope: { only: sessionId }, reason: 'revoked_by_user', audit: { action: 'auth.session_revoked', actorId: userId } }, meta);
  // Unknown, already ended, or someone else's: the same answer, so ids cannot be probed.
  if (ended === 0) throw Errors.sessionNotFound();
}

export interface EndOtherSessions {
  userId: string;
  currentSessionId: string;
  meta: RequestMeta;
}

/** Every session of the caller but the one making the request. */
export async function endOtherSessions(ctx: Deps, { userId, currentSessionId, meta }: EndOtherSessions): Promise<number> {
  return endSessions(ctx, { userId, scope: { except: currentSessionId }, reason: 'revoked_by_user', audit: { action: 'auth.other_sessions_revoked', actorId: userId } }, meta);
}

export async function listSessionsAsAdmin(ctx: Pick<AppContext, 'db' | 'clock'>, userId: string): Promise<SessionRow[]> {
  if (!(await findUserById(ctx.db, userId))) throw Errors.userNotFound();
  return listSessions(ctx, userId);
}

export interface EndSessionsAsAdmin {
  actorId: string;
  userId: string;
  meta: RequestMeta;
}

export async function endSessionsAsAdmin(ctx: Deps, { actorId, userId, meta }: EndSessionsAsAdmin): Promise<number> {
  if (!(await findUserById(ctx.db, userId))) throw Errors.userNotFound();
  return endSessions(ctx, { userId, scope: 'all', reason: 'revoked_by_admin', audit: { action: 'admin.user_sessions_revoked', actorId } }, meta);
}

interface SessionsToEnd {
  userId: string;
  scope: SessionScope;
  reason: RevocationReason;
  audit: { action: AuditAction; actorId: string };
}

async function endSessions(ctx: Deps, end: SessionsToEnd, meta: RequestMeta): Promise<number> {
  const { userId, scope, reason, audit } = end;
  const now = ctx.clock.now();
  const ended = await inUnitOfWork(ctx, async (trx) => {
    const ended = await revokeUserSessions(trx, userId, { scope, now });
    if (ended.length === 0) return ended;
    await recordAudit(trx, meta, {
      action: audit.action,
      userId: audit.actorId,
      // One session: its id. Many (revoke-others may end thousands): whose, and how many.
      ...(typeof scope === 'object' && 'only' in scope ? { resourceType: 'session', resourceId: ended[0]!.id } : { resourceType: 'user', resourceId: userId }),
      details: { user_id: userId, revoked: ended.length },
    });
    await emitSessionsRevoked(ctx, trx, { sessions: ended, reason });
    return ended;
  });
  return ended.length;
}

