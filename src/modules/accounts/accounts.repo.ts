// The account (tenant) and its members: the only SQL of the accounts feature.
import { sql, type Insertable, type Selectable } from 'kysely';
import type { AccountsTable, SubscriptionsTable, UserRow } from '../../db/schema.js';
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

/** One page of an account's members by email (byte order), after the email `after`: the
 *  organization console's list, a page at a time however large the account (the email is
 *  unique, so it is the whole keyset cursor). */
export async function listAccountMembersByEmail(db: Executor, accountId: string, page: { after?: string; limit: number }): Promise<UserRow[]> {
  const emailKey = sql<string>`lower(email) COLLATE "C"`;
  let query = db.selectFrom('users').selectAll().where('account_id', '=', accountId);
  if (page.after !== undefined) query = query.where(sql<boolean>`${emailKey} > ${page.after}`);
  return query.orderBy(emailKey).limit(page.limit).execute();
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
  account: { id: string; name: string; ownerId: string | null; codeLength: number },
): Promise<void> {
  await insertAccountsWithFreshDisplayCodes(db, [account]);
}

/** The batch form (an import): one multi-row statement per attempt; only the accounts whose
 *  random code clashed are tried again. */
export async function insertAccountsWithFreshDisplayCodes(
  db: Executor,
  accounts: Array<{ id: string; name: string; ownerId: string | null; codeLength: number; createdAt?: Date }>,
): Promise<void> {
  let pending = accounts;
  for (let attempt = 0; attempt < 10 && pending.length > 0; attempt++) {
    // One array per column through unnest(): a few parameters, not a few per row (bench/import.ts).
    const { rows: inserted } = await sql<{ id: string }>`
      INSERT INTO accounts (id, name, display_code, owner_id, created_at)
      SELECT id, name, display_code, owner_id, COALESCE(created_at, now())
        FROM unnest(${pending.map((a) => a.id)}::uuid[], ${pending.map((a) => a.name)}::text[],
                    ${pending.map((a) => randomCode(a.codeLength))}::text[], ${pending.map((a) => a.ownerId)}::uuid[],
                    ${pending.map((a) => a.createdAt ?? null)}::timestamptz[]) AS a(id, name, display_code, owner_id, created_at)
      ON CONFLICT (display_code) DO NOTHING
      RETURNING id`.execute(db);
    if (inserted.length === pending.length) return;
    const done = new Set(inserted.map((row) => row.id));
    pending = pending.filter((account) => !done.has(account.id));
  }
  if (pending.length > 0) throw new Error('could not find a free account display code');
}

/** Makes each user the owner of the account named beside it. */
export async function setAccountOwners(db: Executor, owners: Array<{ accountId: string; ownerId: string }>): Promise<void> {
  if (owners.length === 0) return;
  await sql`
    UPDATE accounts SET owner_id = o.owner_id
      FROM unnest(${owners.map((o) => o.accountId)}::uuid[], ${owners.map((o) => o.ownerId)}::uuid[]) AS o(account_id, owner_id)
     WHERE accounts.id = o.account_id`.execute(db);
}

/** The subscriptions, inserted and returned (for their subscription.created events). */
export async function insertSubscriptions(db: Executor, subscriptions: Array<Insertable<SubscriptionsTable>>): Promise<Array<Selectable<SubscriptionsTable>>> {
  if (subscriptions.length === 0) return [];
  if (subscriptions.length === 1) return [await db.insertInto('subscriptions').values(subscriptions[0]!).returningAll().executeTakeFirstOrThrow()];
  const column = <K extends keyof Insertable<SubscriptionsTable>>(key: K) => subscriptions.map((row) => row[key] ?? null);
  const { rows } = await sql<Selectable<SubscriptionsTable>>`
    INSERT INTO subscriptions (account_id, plan, status, current_period_start, current_period_end)
    SELECT * FROM unnest(${column('account_id')}::uuid[], ${column('plan')}::text[], ${column('status')}::text[],
                         ${column('current_period_start')}::timestamptz[], ${column('current_period_end')}::timestamptz[])
    RETURNING *`.execute(db);
  return rows;
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

// The console's account list: by name in byte order ("C" collation), then id (names repeat),
// so one index (accounts_name_prefix_idx, migrations/0018) serves the prefix match, the order
// and the keyset cursor.
const NAME_KEY = sql<string>`lower(name) COLLATE "C"`;

/** Accounts whose name starts with `prefix` (case-insensitive; LIKE wildcards literal), after the cursor. */
export async function searchAccountsByName(
  db: Executor,
  filter: { prefix: string; after?: { name: string; id: string }; limit: number },
): Promise<Array<Selectable<AccountsTable>>> {
  let query = db.selectFrom('accounts').selectAll();
  if (filter.prefix) query = query.where(sql<boolean>`${NAME_KEY} LIKE ${`${filter.prefix.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`}`);
  if (filter.after) query = query.where(sql<boolean>`(${NAME_KEY}, id) > (${filter.after.name.toLowerCase()}, ${filter.after.id}::uuid)`);
  return query.orderBy(NAME_KEY).orderBy('id').limit(filter.limit).execute();
}
