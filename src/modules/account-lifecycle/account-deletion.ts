// DELETE /auth/me and DELETE /admin/users/{id}: a user and everything that is theirs goes, in
// one transaction. Sessions, refresh tokens, identities, single-use links (and passkeys and MFA
// secrets) cascade from the user row; the user's personal account goes with its subscription
// when nobody else is left in it. The audit trail stays, with the user's id and without their
// email. A deleted user's access tokens fail at once (requireUser finds no user in a live
// session), their refresh tokens no longer exist, and their address can register again.
//
// Race: rows are locked the user first, then the account, as ownership transfer does (users,
// then the account), so an owner being deleted while handing the account over queues behind
// one or the other. The member count is read under the account lock, which a user joining the
// account (its foreign key's KEY SHARE lock) waits for.
import type { AppContext, RequestMeta } from '../../context.js';
import type { Executor } from '../../db/database.js';
import type { UserRow } from '../../db/schema.js';
import { Errors } from '../../lib/errors.js';
import { lockUsers } from '../admin/admin-users.repo.js';
import type { AuditAction } from '../audit/audit-actions.js';
import { eraseEmailFromAuditLogs, recordAudit } from '../audit/audit.repo.js';
import { verifyCurrentPassword } from '../lockout/password-check.js';
import { verifyMfaCodeForAction } from '../mfa/mfa-codes.js';
import { emitEvent } from '../events/emit-event.js';
import { emitSessionsRevoked } from '../events/session-events.js';
import { listLiveSessions } from '../sessions/device-sessions.repo.js';
import { deleteUser, lockUser } from '../users/users.repo.js';
import { countOtherMembers, deleteAccount, lockAccount } from '../accounts/accounts.repo.js';
import type { DeleteMeBody } from './lifecycle.schemas.js';
import { inUnitOfWork } from '../../db/unit-of-work.js';

type Deps = Pick<AppContext, 'db' | 'clock' | 'jobs'>;

export interface DeleteOwnAccount {
  user: UserRow;
  proof: DeleteMeBody;
  meta: RequestMeta;
}

/** The caller deletes themself: their password if they have one, a code if MFA is on. */
export async function deleteOwnAccount(ctx: AppContext, { user, proof, meta }: DeleteOwnAccount): Promise<void> {
  if (user.password_hash !== null) {
    if (!proof.password) throw Errors.currentPasswordRequired();
    await verifyCurrentPassword(ctx, meta, { user, password: proof.password, purpose: 'account_deletion' });
  }
  await requireSecondFactor(ctx, { user, code: proof.code, meta });
  await inTransaction(ctx, async (trx) => {
    const fresh = await lockUser(trx, user.id);
    // Deleted meanwhile by another request: its tokens are already dead.
    if (!fresh) throw Errors.credentials();
    await removeUser(ctx, trx, { user: fresh, audit: { action: 'auth.account_deleted', actorId: fresh.id }, meta });
  });
}

/** An enrolled user proves the second factor too: a missing or wrong `code` is 400 `Invalid MFA
 *  code`, counted toward the lockout like any wrong code (modules/mfa). */
async function requireSecondFactor(
  ctx: AppContext,
  { user, code, meta }: { user: UserRow; code: string | undefined; meta: RequestMeta },
): Promise<void> {
  if (!user.mfa_enabled) return;
  if (!code) throw Errors.invalidMfaCode();
  await verifyMfaCodeForAction(ctx, meta, { user, code, purpose: 'account_deletion' });
}

export interface DeleteUserAsAdmin {
  actorId: string;
  userId: string;
  meta: RequestMeta;
}

/** An admin deletes a user (never themself): no password, the same account rules. */
export async function deleteUserAsAdmin(ctx: Deps, { actorId, userId, meta }: DeleteUserAsAdmin): Promise<void> {
  // As with self-deactivation: the platform would be one click from having no admin.
  if (actorId === userId) throw Errors.cannotDeleteSelf();
  await inTransaction(ctx, async (trx) => {
    const locked = await lockUsers(trx, [...new Set([actorId, userId])]);
    // The admin check ran when the request was authenticated; re-check under the lock.
    const actor = locked.get(actorId);
    if (!actor || actor.role !== 'admin' || !actor.is_active) throw Errors.notEnoughPermissions();
    const user = locked.get(userId);
    if (!user) throw Errors.userNotFound();
    await removeUser(ctx, trx, { user, audit: { action: 'admin.user_deleted', actorId }, meta });
  });
}

async function inTransaction(ctx: Deps, work: (trx: Executor) => Promise<void>): Promise<void> {
  await inUnitOfWork(ctx, work);
}

/**
 * Deletes `user` by the account-deletion rules: the caller's, an admin's, and a directory's
 * (SCIM DELETE, whose actor is no user: `actorId` null, the actor named in `details`).
 * `user` is row-locked by the caller, in this transaction.
 */
export async function removeUser(
  ctx: Pick<AppContext, 'clock'>,
  trx: Executor,
  removal: { user: UserRow; audit: { action: AuditAction; actorId: string | null; details?: Record<string, unknown> }; meta: RequestMeta | null },
): Promise<void> {
  const { user, audit, meta } = removal;
  const account = await lockAccount(trx, user.account_id);
  const owns = user.account_role === 'owner' || account?.owner_id === user.id;
  const othersLeft = await countOtherMembers(trx, user.account_id, user.id);
  if (owns && othersLeft > 0) throw Errors.transferOwnershipFirst();

  const liveSessions = await listLiveSessions(trx, user.id, ctx.clock.now());
  await eraseEmailFromAuditLogs(trx, user.email);
  await deleteUser(trx, user.id);
  // Nobody else in it (checked above), so the account and its subscription go too.
  const accountDeleted = owns && account !== undefined;
  if (accountDeleted) await deleteAccount(trx, user.account_id);

  await recordAudit(trx, meta, {
    action: audit.action,
    userId: audit.actorId,
    resourceType: 'user',
    resourceId: user.id,
    details: { account_id: user.account_id, account_deleted: accountDeleted, sessions_ended: liveSessions.length, ...audit.details },
  });
  await emitSessionsRevoked(ctx, trx, { sessions: liveSessions, reason: 'user_deleted' });
  await emitEvent(ctx, trx, { type: 'user.deleted', data: { id: user.id, email: user.email, account_id: user.account_id } });
}
