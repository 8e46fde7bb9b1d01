// Platform administration of users: search, activate/deactivate, grant/remove the admin
// role. Shared by /admin/users and the `keyhold users` commands (actor null = operator).
import { inUnitOfWork } from '../../db/unit-of-work.js';
import type { AppContext, RequestMeta } from '../../context.js';
import type { Executor } from '../../db/database.js';
import type { UserRow } from '../../db/schema.js';
import { normalizeEmail } from '../../lib/email-address.js';
import { Errors } from '../../lib/errors.js';
import { recordAudit } from '../audit/audit.repo.js';
import { revokeAllSessions } from '../sessions/sessions.repo.js';
import { emitEvent } from '../events/emit-event.js';
import { emitSessionsRevoked } from '../events/session-events.js';
import { toUserResponse } from '../users/user.schemas.js';
import { findUserByEmail, findUserById, updateUser } from '../users/users.repo.js';
import { findEmailsOfUsers, searchUsers as selectUsers, lockUsers, searchUsersByEmailPrefix, type UserListItem } from './admin-users.repo.js';
import { checkPage, type PageRequest } from '../../http/paging.js';

export const USER_PAGE = { defaultLimit: 50, maxLimit: 200 } as const;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface UserChanges {
  is_active?: boolean;
  role?: UserRow['role'];
}

/** Newest first; `q` searches email and name. */
export async function listUsers(ctx: Pick<AppContext, 'db'>, query: PageRequest & { q?: string }): Promise<UserRow[]> {
  const page = checkPage(query, USER_PAGE);
  return selectUsers(ctx.db, { q: query.q?.trim() || undefined, ...page });
}

/**
 * Users by email prefix, in email order, keyset-paged (`after`: the last email of the previous
 * page): the console's list, flat however many users there are. Not OFFSET: page 1,000 reads
 * what page 1 does.
 */
export async function browseUsers(ctx: Pick<AppContext, 'db'>, query: { prefix?: string; after?: string; limit?: number }): Promise<UserListItem[]> {
  const { limit } = checkPage({ limit: query.limit }, USER_PAGE);
  return searchUsersByEmailPrefix(ctx.db, { prefix: normalizeEmail(query.prefix ?? ''), after: query.after, limit });
}

/** Who the user ids of a page of rows (audit events) are: id → email; deleted users are absent. */
export const emailsOfUsers = (ctx: Pick<AppContext, 'db'>, ids: readonly string[]): Promise<Map<string, string>> =>
  findEmailsOfUsers(ctx.db, [...new Set(ids)]);

/** A user named by id or by email (the command line takes either). */
export async function findUserByReference(ctx: Pick<AppContext, 'db'>, reference: string): Promise<UserRow> {
  const user = UUID.test(reference) ? await findUserById(ctx.db, reference) : await findUserByEmail(ctx.db, normalizeEmail(reference));
  if (!user) throw Errors.userNotFound();
  return user;
}

export interface EndDeactivatedUserSessions {
  userId: string;
  now: Date;
}

/**
 * What deactivating a user ends: every session and refresh token, each announced
 * (session.revoked). The one deactivation path: the admin API, the command line and SCIM
 * (modules/scim) all come here, so whatever else a deactivation must end is added once, here.
 */
export async function endDeactivatedUserSessions(
  ctx: Pick<AppContext, 'clock'>,
  trx: Executor,
  { userId, now }: EndDeactivatedUserSessions,
): Promise<void> {
  await emitSessionsRevoked(ctx, trx, { sessions: await revokeAllSessions(trx, userId, now), reason: 'user_deactivated' });
}

export interface UpdateUserAsAdmin {
  /** Null for the command line, which acts as no user. */
  actorId: string | null;
  userId: string;
  changes: UserChanges;
  meta: RequestMeta | null;
}

/**
 * Applies the changes that differ from the stored user. Deactivation revokes every session
 * and refresh token in the same transaction, so the user's live access tokens stop working
 * on their next request. An admin can neither deactivate nor demote themself (the platform
 * would be one click from having no admin).
 */
export async function updateUserAsAdmin(
  ctx: Pick<AppContext, 'db' | 'clock'> & { jobs: AppContext['jobs'] | undefined },
  { actorId, userId, changes, meta }: UpdateUserAsAdmin,
): Promise<UserRow> {
  if (actorId === userId && changes.is_active === false) throw Errors.cannotDeactivateSelf();
  if (actorId === userId && changes.role === 'engineer') throw Errors.cannotRemoveOwnAdminRole();
  const now = ctx.clock.now();
  // One unit of work: its webhook events are delivered as soon as it commits.
  return inUnitOfWork(ctx, async (trx) => {
    const locked = await lockUsers(trx, actorId ? [actorId, userId] : [userId]);
    if (actorId) {
      // The admin check ran when the request was authenticated; re-check under the lock.
      const actor = locked.get(actorId);
      if (!actor || actor.role !== 'admin' || !actor.is_active) throw Errors.notEnoughPermissions();
    }
    const user = locked.get(userId);
    if (!user) throw Errors.userNotFound();

    const update: UserChanges = {};
    const diff: Record<string, { from: unknown; to: unknown }> = {};
    for (const key of ['is_active', 'role'] as const) {
      const value = changes[key];
      if (value !== undefined && value !== user[key]) {
        Object.assign(update, { [key]: value });
        diff[key] = { from: user[key], to: value };
      }
    }
    if (Object.keys(update).length === 0) return user;

    const updated = await updateUser(trx, { id: user.id, changes: update, now });
    if (update.is_active === false) await endDeactivatedUserSessions(ctx, trx, { userId: user.id, now });
    const event = update.is_active === false ? 'user.deactivated' : update.is_active === true ? 'user.reactivated' : 'user.updated';
    await emitEvent(ctx, trx, { type: event, data: toUserResponse(updated) });
    await recordAudit(trx, meta, {
      action: 'admin.user_updated',
      userId: actorId,
      resourceType: 'user',
      resourceId: user.id,
      details: { changes: diff, sessions_revoked: update.is_active === false },
    });
    return updated;
  });
}
