// Whose account a tenant-administration request acts on: the caller's own (owner or admin of
// it), or, under /admin/accounts/{id}/…, any account for a platform admin. Features that hold an
// account's settings (domains, SSO connections) take the scope and query only inside it.
import type { AppContext } from '../../context.js';
import type { UserRow } from '../../db/schema.js';
import { Errors } from '../../lib/errors.js';
import { findAccountWithSubscription } from './accounts.repo.js';
import { requireAccountManager } from './accounts.service.js';

export interface AccountScope {
  accountId: string;
  /** Who acts, for the audit log. */
  actorId: string;
}

/** The caller's own account; 403 `Not enough permissions` for a plain member. */
export function ownAccountScope(user: UserRow): AccountScope {
  requireAccountManager(user);
  return { accountId: user.account_id, actorId: user.id };
}

/** Any account, for a platform admin (the route's guard checked the role); 404 when it does not exist. */
export async function adminAccountScope(ctx: Pick<AppContext, 'db'>, admin: UserRow, accountId: string): Promise<AccountScope> {
  if (!(await findAccountWithSubscription(ctx.db, accountId))) throw Errors.accountNotFound();
  return { accountId, actorId: admin.id };
}
