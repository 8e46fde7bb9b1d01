// POST /accounts/me/transfer-ownership: the owner hands the account to one of its members and
// stays on as an admin. Rows are locked users first (in id order), then the account, the same
// order as account deletion, so an owner transferring while being deleted queues, never
// deadlocks: whichever commits first decides, and the other re-reads the rows it waited for.
import type { AppContext, RequestMeta } from '../../context.js';
import type { UserRow } from '../../db/schema.js';
import { Errors } from '../../lib/errors.js';
import { recordAudit } from '../audit/audit.repo.js';
import { emitEvent } from '../events/emit-event.js';
import { updateUser } from '../users/users.repo.js';
import { findAccountWithSubscription, lockAccount, lockAccountMembers, setAccountOwner, type AccountWithSubscription } from './accounts.repo.js';
import { inUnitOfWork } from '../../db/unit-of-work.js';

export interface TransferOwnership {
  actor: UserRow;
  newOwnerId: string;
  meta: RequestMeta;
}

export async function transferOwnership(
  ctx: Pick<AppContext, 'db' | 'clock' | 'jobs'>,
  { actor, newOwnerId, meta }: TransferOwnership,
): Promise<AccountWithSubscription> {
  if (actor.account_role !== 'owner') throw Errors.notEnoughPermissions();
  if (newOwnerId === actor.id) throw Errors.cannotChangeOwnRole();
  const now = ctx.clock.now();
  const account = await inUnitOfWork(ctx, async (trx) => {
    const members = await lockAccountMembers(trx, actor.account_id, [actor.id, newOwnerId]);
    // Re-read under the lock: ownership may have moved (or the owner left) since authentication.
    const owner = members.get(actor.id);
    if (!owner || owner.account_role !== 'owner') throw Errors.notEnoughPermissions();
    const target = members.get(newOwnerId);
    if (!target) throw Errors.userNotFound();
    await lockAccount(trx, owner.account_id);
    await updateUser(trx, { id: target.id, changes: { account_role: 'owner' }, now });
    await updateUser(trx, { id: owner.id, changes: { account_role: 'admin' }, now });
    await setAccountOwner(trx, owner.account_id, target.id);
    const change = { account_id: owner.account_id, previous_owner_id: owner.id, new_owner_id: target.id };
    await recordAudit(trx, meta, {
      action: 'account.ownership_transferred',
      userId: owner.id,
      resourceType: 'account',
      resourceId: owner.account_id,
      details: { ...change, new_owner_previous_role: target.account_role },
    });
    await emitEvent(ctx, trx, { type: 'account.ownership_transferred', data: change });
    return findAccountWithSubscription(trx, owner.account_id);
  });
  if (!account) throw Errors.accountNotFound();
  return account;
}
