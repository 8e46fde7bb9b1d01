// The caller's own account: read it and its members, change a member's role, remove a member.
//
// Who may do what (account_role):
//   owner  — everything below, and demote or remove admins;
//   admin  — invite, promote members to admin, remove members; NOT demote or remove another
//            admin (an admin cannot oust a peer; only the owner can);
//   member — read the account and the member list.
// The owner can be neither demoted nor removed, and nobody changes or removes themself here.
// Removing a member moves them to a fresh personal account they own (users.account_id is
// NOT NULL) with the standard trial, and signs them out everywhere, in one transaction.
import type { AppContext, RequestMeta } from '../../context.js';
import type { UserRow } from '../../db/schema.js';
import { Errors } from '../../lib/errors.js';
import { recordAudit } from '../audit/audit.repo.js';
import { revokeAllSessions } from '../sessions/sessions.repo.js';
import { emitEvent } from '../events/emit-event.js';
import { emitSessionsRevoked } from '../events/session-events.js';
import { findUserById, updateUser } from '../users/users.repo.js';
import { findAccountWithSubscription, listAccountMembers, listAccountMembersByEmail, lockAccountMembers, type AccountWithSubscription } from './accounts.repo.js';
import { createPersonalAccount } from './personal-account.js';
import type { Executor } from '../../db/database.js';
import { inUnitOfWork } from '../../db/unit-of-work.js';

export type AccountRole = UserRow['account_role'];
export type AssignableAccountRole = Exclude<AccountRole, 'owner'>;

type Deps = Pick<AppContext, 'db' | 'clock' | 'config' | 'jobs'>;

const canManageAccount = (user: Pick<UserRow, 'account_role'>): boolean =>
  user.account_role === 'owner' || user.account_role === 'admin';

/** Owners and admins manage the account; anyone else gets 403 `Not enough permissions`. */
export function requireAccountManager(user: Pick<UserRow, 'account_role'>): void {
  if (!canManageAccount(user)) throw Errors.notEnoughPermissions();
}

/**
 * Re-reads the acting manager under a row lock inside a transaction: a manager demoted or
 * removed a moment ago (after their request was authenticated) cannot still act.
 */
export async function lockManager(trx: Executor, actor: UserRow, otherIds: string[] = []): Promise<Map<string, UserRow>> {
  const rows = await lockAccountMembers(trx, actor.account_id, [...new Set([actor.id, ...otherIds])]);
  const fresh = rows.get(actor.id);
  if (!fresh || !canManageAccount(fresh)) throw Errors.notEnoughPermissions();
  return rows;
}

export async function getAccount(ctx: Pick<AppContext, 'db'>, user: UserRow): Promise<AccountWithSubscription> {
  const account = await findAccountWithSubscription(ctx.db, user.account_id);
  if (!account) throw Errors.accountNotFound();
  return account;
}

export async function listMembers(ctx: Pick<AppContext, 'db'>, user: UserRow): Promise<UserRow[]> {
  return listAccountMembers(ctx.db, user.account_id);
}

/** One member of the caller's account; 404 `User not found` for anyone else (another account's too). */
export async function getMember(ctx: Pick<AppContext, 'db'>, user: UserRow, memberId: string): Promise<UserRow> {
  const member = await findUserById(ctx.db, memberId);
  if (!member || member.account_id !== user.account_id) throw Errors.userNotFound();
  return member;
}

/** A page of the members, by email: `limit` of them after the email `after` (lower-case). */
export async function listMembersPage(ctx: Pick<AppContext, 'db'>, user: UserRow, page: { after?: string; limit: number }): Promise<UserRow[]> {
  return listAccountMembersByEmail(ctx.db, user.account_id, page);
}

type MemberAction = 'change' | 'remove';

function assertMayManageMember(actor: UserRow, target: UserRow, action: MemberAction): void {
  if (target.account_role === 'owner') {
    throw action === 'change' ? Errors.ownerCannotBeDemoted() : Errors.ownerCannotBeRemoved();
  }
  if (target.id === actor.id) {
    throw action === 'change' ? Errors.cannotChangeOwnRole() : Errors.cannotRemoveSelf();
  }
  if (target.account_role === 'admin' && actor.account_role !== 'owner') throw Errors.notEnoughPermissions();
}

async function lockActorAndTarget(trx: Executor, actor: UserRow, targetId: string): Promise<{ actor: UserRow; target: UserRow }> {
  const rows = await lockManager(trx, actor, [targetId]);
  const target = rows.get(targetId);
  if (!target) throw Errors.userNotFound();
  return { actor: rows.get(actor.id)!, target };
}

export interface ChangeMemberRole {
  actor: UserRow;
  targetId: string;
  role: AssignableAccountRole;
  meta: RequestMeta | null;
}

export async function changeMemberRole(ctx: Deps, { actor, targetId, role, meta }: ChangeMemberRole): Promise<UserRow> {
  requireAccountManager(actor);
  const now = ctx.clock.now();
  const changed = await inUnitOfWork(ctx, async (trx) => {
    const locked = await lockActorAndTarget(trx, actor, targetId);
    const { target } = locked;
    // Promoting a member to admin is an admin's right; anything touching an admin is the owner's.
    assertMayManageMember(locked.actor, target, 'change');
    if (target.account_role === role) return target;
    const updated = await updateUser(trx, { id: target.id, changes: { account_role: role }, now });
    await emitEvent(ctx, trx, { type: 'account.member_role_changed', data: { account_id: actor.account_id, user_id: target.id, role, previous_role: target.account_role } });
    await recordAudit(trx, meta, {
      action: 'account.member_role_changed',
      userId: actor.id,
      resourceType: 'user',
      resourceId: target.id,
      details: { account_id: actor.account_id, from: target.account_role, to: role },
    });
    return updated;
  });
  return changed;
}

export interface RemoveMember {
  actor: UserRow;
  targetId: string;
  meta: RequestMeta | null;
}

export async function removeMember(ctx: Deps, { actor, targetId, meta }: RemoveMember): Promise<void> {
  requireAccountManager(actor);
  const now = ctx.clock.now();
  await inUnitOfWork(ctx, async (trx) => {
    const locked = await lockActorAndTarget(trx, actor, targetId);
    const { target } = locked;
    assertMayManageMember(locked.actor, target, 'remove');
    const personalAccountId = await createPersonalAccount(trx, {
      ownerId: target.id,
      ownerName: target.name,
      inviteCode: null,
      trialDays: ctx.config.trialDays,
      now,
    });
    await updateUser(trx, { id: target.id, changes: { account_id: personalAccountId, account_role: 'owner' }, now });
    // Their tokens were minted while they belonged to the account: end them now.
    await emitSessionsRevoked(ctx, trx, { sessions: await revokeAllSessions(trx, target.id, now), reason: 'member_removed' });
    await emitEvent(ctx, trx, { type: 'account.member_removed', data: { account_id: actor.account_id, user_id: target.id, role: target.account_role } });
    await recordAudit(trx, meta, {
      action: 'account.member_removed',
      userId: actor.id,
      resourceType: 'user',
      resourceId: target.id,
      details: { account_id: actor.account_id, role: target.account_role, new_account_id: personalAccountId },
    });
  });
}
