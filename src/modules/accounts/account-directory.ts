// Every account, for platform admins (the console): find accounts by name, keyset-paged, and
// read one with its subscription and members. Changes to an account go through the services
// its owners use, with an admin scope (account-scope.ts).
import type { AppContext } from '../../context.js';
import type { UserRow } from '../../db/schema.js';
import { Errors } from '../../lib/errors.js';
import { checkPage } from '../../http/paging.js';
import { findAccountWithSubscription, listAccountMembers, searchAccountsByName, type AccountWithSubscription } from './accounts.repo.js';

export const ACCOUNT_PAGE = { defaultLimit: 50, maxLimit: 200 } as const;

/** Accounts by name prefix; `after` is the last account of the previous page. Never OFFSET. */
export async function browseAccounts(ctx: Pick<AppContext, 'db'>, query: { prefix?: string; after?: { name: string; id: string }; limit?: number }) {
  const { limit } = checkPage({ limit: query.limit }, ACCOUNT_PAGE);
  return searchAccountsByName(ctx.db, { prefix: (query.prefix ?? '').trim(), after: query.after, limit });
}

/** One account with its subscription and members; 404 when there is none. */
export async function accountForAdmin(ctx: Pick<AppContext, 'db'>, accountId: string): Promise<{ account: AccountWithSubscription; members: UserRow[] }> {
  const account = await findAccountWithSubscription(ctx.db, accountId);
  if (!account) throw Errors.accountNotFound();
  return { account, members: await listAccountMembers(ctx.db, accountId) };
}
