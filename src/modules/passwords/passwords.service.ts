// POST /auth/password/change, and what every password change shares with a reset.
import type { AppContext, RequestMeta } from '../../context.js';
import type { UserRow } from '../../db/schema.js';
import { Errors } from '../../lib/errors.js';
import { normalizePassword } from '../../lib/passwords.js';
import { recordAudit } from '../audit/audit.repo.js';
import { LOCKOUT_CLEARED } from '../lockout/lockout.repo.js';
import { rejectPasswordless, verifyCurrentPassword } from '../lockout/password-check.js';
import { revokeAllSessions } from '../sessions/sessions.repo.js';
import { emitEvent } from '../events/emit-event.js';
import { emitSessionsRevoked } from '../events/session-events.js';
import { toUserResponse } from '../users/user.schemas.js';
import { updateUser } from '../users/users.repo.js';
import { retireResetTokens } from './passwords.repo.js';
import type { Executor } from '../../db/database.js';
import { inUnitOfWork } from '../../db/unit-of-work.js';

export interface ChangePassword {
  user: UserRow;
  input: { current_password: string; new_password: string };
  meta: RequestMeta;
}

export async function changePassword(ctx: AppContext, { user, input, meta }: ChangePassword): Promise<void> {
  await rejectPasswordless(ctx, user);
  await verifyCurrentPassword(ctx, meta, { user, password: input.current_password, purpose: 'password_change' });
  if (normalizePassword(input.current_password) === normalizePassword(input.new_password)) {
    throw Errors.newPasswordSameAsCurrent();
  }
  // argon2 before the transaction: no connection or row lock waits on it.
  const passwordHash = await ctx.passwords.hash(input.new_password);
  const now = ctx.clock.now();
  await inUnitOfWork(ctx, async (trx) => {
    await replacePassword(trx, { userId: user.id, passwordHash, now });
    await recordAudit(trx, meta, { action: 'auth.password_change', userId: user.id, resourceType: 'user', resourceId: user.id });
  });
}

export interface ReplacePassword {
  userId: string;
  passwordHash: string;
  now: Date;
}

/**
 * Sets a new password and ends everything the old one opened: every session (so access
 * tokens die at once, not at expiry) with its refresh tokens, and every reset link not yet
 * used. A lockout from guessing the old password ends too. Call inside the transaction of
 * the change.
 */
export async function replacePassword(trx: Executor, { userId, passwordHash, now }: ReplacePassword): Promise<void> {
  const updated = await updateUser(trx, {
    id: userId,
    changes: { password_hash: passwordHash, must_change_password: false, ...LOCKOUT_CLEARED },
    now,
  });
  const revoked = await revokeAllSessions(trx, userId, now);
  await retireResetTokens(trx, userId, now);
  const at = { clock: { now: () => now } };
  await emitEvent(at, trx, { type: 'user.password_changed', data: toUserResponse(updated) });
  await emitSessionsRevoked(at, trx, { sessions: revoked, reason: 'password_changed' });
}
