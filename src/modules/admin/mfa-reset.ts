// POST /admin/users/{id}/mfa/reset (and the console's reset button): the admin's reset for a
// user who lost every factor. Every factor goes at once (auth/factors.ts), with the sessions.
import type { AppContext, RequestMeta } from '../../context.js';
import type { UserRow } from '../../db/schema.js';
import { Errors } from '../../lib/errors.js';
import { recordAudit } from '../audit/audit.repo.js';
import { removeEveryFactor } from '../auth/factors.js';
import { emitEvent } from '../events/emit-event.js';
import { emitSessionsRevoked } from '../events/session-events.js';
import { revokeAllSessions } from '../sessions/sessions.repo.js';
import { toUserResponse } from '../users/user.schemas.js';
import { findUserById, updateUser } from '../users/users.repo.js';
import { inUnitOfWork } from '../../db/unit-of-work.js';

export interface ResetUserMfa {
  adminId: string;
  userId: string;
  meta: RequestMeta;
}

/**
 * POST /admin/users/{id}/mfa/reset: TOTP, recovery codes and passkeys go (a lost device's
 * passkey must not sign in either), pending sign-in challenges die, and every session ends.
 */
export async function resetUserMfa(ctx: AppContext, { adminId, userId, meta }: ResetUserMfa): Promise<UserRow> {
  const user = await inUnitOfWork(ctx, async (trx) => {
    const target = await findUserById(trx, userId);
    if (!target) throw Errors.userNotFound();
    const now = ctx.clock.now();
    const removed = await removeEveryFactor(trx, userId, now);
    await emitSessionsRevoked(ctx, trx, { sessions: await revokeAllSessions(trx, userId, now), reason: 'mfa_reset' });
    const updated = await updateUser(trx, { id: userId, changes: { mfa_enabled: false }, now });
    await recordAudit(trx, meta, {
      action: 'admin.user_mfa_reset',
      userId: adminId,
      resourceType: 'user',
      resourceId: userId,
      details: { was_enabled: target.mfa_enabled, totp_removed: removed.totp, passkeys_removed: removed.passkeys, sessions_ended: true },
    });
    if (target.mfa_enabled) await emitEvent(ctx, trx, { type: 'user.mfa_disabled', data: toUserResponse(updated) });
    return updated;
  });
  return user;
}
