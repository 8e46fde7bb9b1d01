// The account (tenant) and its members: the only SQL of the accounts feature.
import { sql, type Insertable } from 'kysely';
import type { SubscriptionsTable, UserRow } from '../../db/schema.js';
import { randomCode } from '../../lib/random.js';
import type { Executor } from '../../db/database.js';

export interface AccountWithSubscription {
  id: string;
  name: string;
  display_code: string;
  owner_id: string | null;
  created_at: Date;
  plan: string | null;
  status: string | null;
  current_period_start: Date | null;
  current_period_end: Date | null;
}

export async function findAccountWithSubscription(db: Executor, accountId: string): Promise<AccountWithSubscription | undefined> {
  return db
    .selectFrom('accounts')
    .leftJoin('subscriptions', 'subscriptions.account_id', 'accounts.id')
    .select([
      'accounts.id',
      'accounts.name',
      'accounts.display_code',
      'accounts.owner_id',
      'accounts.created_at',
      'subscriptions.plan',
      'subscriptions.status',
      'subscriptions.current_period_start',
      'subscriptions.current_period_end',
    ])
    .where('accounts.id', '=', accountId)
    .executeTakeFirst();
}

export async function findAccountName(db: Executor, accountId: string): Promise<string> {
  const row = await db.selectFrom('accounts').select('name').where('id', '=', accountId).executeTakeFirstOrThrow();
  return row.name;
}

export async function listAccountMembers(db: Executor, accountId: string): Promise<UserRow[]> {
  return db.selectFrom('users').selectAll().where('account_id', '=', accountId).orderBy('created_at').orderBy('id').execute();
}

/**
 * Locks the named users that belong to the account, in id order (two managers acting on
 * each other lock in the same order, so they queue instead of deadlocking). Users of
 * other accounts are simply absent: the caller answers 404 without saying they exist.
 */
export async function lockAccountMembers(db: Executor, accountId: string, userIds: string[]): Promise<Map<string, UserRow>> {
  const rows = await db
    .selectFrom('users')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('id', 'in', userIds)
    .orderBy('id')
    .forUpdate()
    .execute();
  return new Map(rows.map((row) => [row.id, row]));
}

export async function isAccountMemberEmail(db: Executor, accountId: string, email: string): Promise<boolean> {
  const row = await db
    .selectFrom('users')
    .select('id')
    .where('account_id', '=', accountId)
    .where(sql<string>`lower(email)`, '=', email.toLowerCase())
    .executeTakeFirst();
  return row !== undefined;
}

/** Inserts an account with a random display code; 36^8 codes make a clash rare, and ON
 *  CONFLICT DO NOTHING retries one without aborting the transaction. */
export async function insertAccountWithFreshDisplayCode(
  db: Executor,
  account: { id: string; name: string; ownerId: string; codeLength: number },
): Promise<void> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const inserted = await db
      .insertInto('accounts')
      .values({ id: account.id, name: account.name, display_code: randomCode(account.codeLength), owner_id: account.ownerId })
      .onConflict((oc) => oc.column('display_code').doNothing())
      .returning('id')
      .executeTakeFirst();
    if (inserted) return;
  }
  throw new Error('could not find a free account display code');
}

export async function insertSubscription(db: Executor, subscription: Insertable<SubscriptionsTable>): Promise<void> {
  await db.insertInto('subscriptions').values(subscription).execute();
}

/**
 * Locks the account row. A user joining the account (its foreign key takes a KEY SHARE lock on
 * this row) waits until the lock's transaction ends, so a member count read under it holds.
 */
export async function lockAccount(db: Executor, accountId: string): Promise<{ id: string; owner_id: string | null } | undefined> {
  return db.selectFrom('accounts').select(['id', 'owner_id']).where('id', '=', accountId).forUpdate().executeTakeFirst();
}

export async function countOtherMembers(db: Executor, accountId: string, userId: string): Promise<number> {
  const row = await db
    .selectFrom('users')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('account_id', '=', accountId)
    .where('id', '<>', userId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function setAccountOwner(db: Executor, accountId: string, ownerId: string): Promise<void> {
  await db.updateTable('accounts').set({ owner_id: ownerId }).where('id', '=', accountId).execute();
}

/** Deletes an account nobody belongs to any more; its subscription and invites go with it. */
export async function deleteAccount(db: Executor, accountId: string): Promise<void> {
  await db.deleteFrom('accounts').where('id', '=', accountId).execute();
}
