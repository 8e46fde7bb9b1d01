// Account roles from directory groups (PUT /accounts/me/scim-settings {group_roles}): a SCIM
// user's role is the highest role any of their groups maps to, `member` when none maps. With no
// mapping configured SCIM leaves roles alone (an account that does not use groups for roles keeps
// the roles set in Keyhold). The owner is never changed.
import type { Executor } from '../../db/database.js';
import { recordAudit } from '../audit/audit.repo.js';
import { lockAccountMembers } from '../accounts/accounts.repo.js';
import { emitEvent } from '../events/emit-event.js';
import { updateUser } from '../users/users.repo.js';
import type { RequestMeta } from '../../context.js';
import { actorOf, metaOf, type ScimCaller, type ScimDeps } from './scim-context.js';
import { listGroupsOfUsers } from './scim.repo.js';
import { findGroupRoles, type GroupRoles } from './scim-tokens.repo.js';

const RANK = { member: 0, admin: 1 } as const;

export function roleFromGroups(groupRoles: GroupRoles, groupNames: string[]): 'admin' | 'member' {
  const byName = new Map(Object.entries(groupRoles).map(([name, role]) => [name.toLowerCase(), role]));
  let role: 'admin' | 'member' = 'member';
  for (const name of groupNames) {
    const mapped = byName.get(name.toLowerCase());
    if (mapped && RANK[mapped] > RANK[role]) role = mapped;
  }
  return role;
}

/** Who changes roles: a SCIM token, or a manager changing the mapping (PUT scim-settings). */
export interface RoleChanger {
  accountId: string;
  actor: string;
  actorUserId: string | null;
  meta: RequestMeta | null;
}

export const changerOf = (caller: ScimCaller): RoleChanger => ({ accountId: caller.accountId, actor: actorOf(caller), actorUserId: null, meta: metaOf(caller) });

/** Whose roles to re-derive (`userIds`, users of the changer's account) and who changes them. */
export interface RoleDerivation {
  caller: RoleChanger;
  userIds: string[];
}

/** Re-derives the roles of `userIds` (users of the caller's account) in the caller's transaction. */
export async function deriveRoles(deps: Pick<ScimDeps, 'clock'>, trx: Executor, { caller, userIds }: RoleDerivation): Promise<void> {
  if (userIds.length === 0) return;
  const groupRoles = await findGroupRoles(trx, caller.accountId);
  if (Object.keys(groupRoles).length === 0) return;
  const users = await lockAccountMembers(trx, caller.accountId, [...new Set(userIds)]);
  const groups = await listGroupsOfUsers(trx, caller.accountId, [...users.keys()]);
  const now = deps.clock.now();
  for (const user of users.values()) {
    if (user.account_role === 'owner') continue;
    const role = roleFromGroups(groupRoles, groups.filter((g) => g.user_id === user.id).map((g) => g.display_name));
    if (role === user.account_role) continue;
    await updateUser(trx, { id: user.id, changes: { account_role: role }, now });
    await emitEvent(deps, trx, { type: 'account.member_role_changed', data: { account_id: caller.accountId, user_id: user.id, role, previous_role: user.account_role } });
    await recordAudit(trx, caller.meta, {
      action: 'account.member_role_changed',
      userId: caller.actorUserId,
      resourceType: 'user',
      resourceId: user.id,
      details: { account_id: caller.accountId, from: user.account_role, to: role, actor: caller.actor },
    });
  }
}
