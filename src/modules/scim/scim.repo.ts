// scim_users, scim_groups and scim_group_members: the only place that queries them. Every
// function takes the token's account first, and every read of a user also requires the user
// row to be in that account, so no query can reach another account's people.
import { sql, type Expression, type SqlBool } from 'kysely';
import type { Executor } from '../../db/database.js';
import { preparedStatement } from '../../db/prepared.js';
import { writeOf, type Write } from '../../db/together.js';

export interface ScimUserRecord {
  user_id: string;
  account_id: string;
  user_name: string;
  external_id: string | null;
  display_name: string | null;
  attributes: Record<string, unknown>;
  created_at: Date;
  updated_at: Date;
  is_active: boolean;
  account_role: 'owner' | 'admin' | 'member';
  email: string;
}

export interface ScimGroupRecord {
  id: string;
  account_id: string;
  display_name: string;
  external_id: string | null;
  created_at: Date;
  updated_at: Date;
}

export interface Page {
  offset: number;
  limit: number;
}

/** The SCIM view of the account's users: `s` is scim_users, `u` users (filters refer to both). */
function usersOf(db: Executor, accountId: string) {
  return db
    .selectFrom('scim_users as s')
    .innerJoin('users as u', 'u.id', 's.user_id')
    .where('s.account_id', '=', accountId)
    .where('u.account_id', '=', accountId);
}

const USER_COLUMNS = [
  's.user_id', 's.account_id', 's.user_name', 's.external_id', 's.display_name', 's.attributes', 's.created_at', 's.updated_at',
  'u.is_active', 'u.account_role', 'u.email',
] as const;

export async function findScimUser(db: Executor, accountId: string, userId: string): Promise<ScimUserRecord | undefined> {
  return usersOf(db, accountId).select(USER_COLUMNS).where('s.user_id', '=', userId).executeTakeFirst();
}

/** Also locks the user row (and so orders writers of one user) for the rest of the transaction. */
export async function lockScimUser(db: Executor, accountId: string, userId: string): Promise<ScimUserRecord | undefined> {
  return usersOf(db, accountId).select(USER_COLUMNS).where('s.user_id', '=', userId).forUpdate('u').executeTakeFirst();
}

/** A page of an account's SCIM Users or Groups, those the filter (compiled, scim-filter.ts) matches. */
export interface ScimListQuery {
  accountId: string;
  filter: Expression<SqlBool> | null;
  page: Page;
}

export async function listScimUsers(db: Executor, { accountId, filter, page }: ScimListQuery): Promise<{ total: number; rows: ScimUserRecord[] }> {
  const base = filter ? usersOf(db, accountId).where(filter) : usersOf(db, accountId);
  const { n } = await base.select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
  const total = Number(n);
  if (page.limit === 0 || page.offset >= total) return { total, rows: [] };
  const rows = await base.select(USER_COLUMNS).orderBy('s.created_at').orderBy('s.user_id').offset(page.offset).limit(page.limit).execute();
  return { total, rows };
}

/** The user holding this userName in the account (case-insensitive), if any. */
export async function findUserIdByUserName(db: Executor, accountId: string, userName: string): Promise<string | undefined> {
  const row = await db
    .selectFrom('scim_users')
    .select('user_id')
    .where('account_id', '=', accountId)
    .where(sql<string>`lower(user_name)`, '=', sql<string>`lower(${userName})`)
    .executeTakeFirst();
  return row?.user_id;
}

/** What a POST /Users checks first, in one statement: who holds the userName in the account,
 *  who holds the address (anywhere), and the account's name (for the setup email). */
// Every SCIM creation asks it: prepared (db/prepared.ts). $1 account, $2 userName, $3 email (lower-cased).
const provisioningFacts = preparedStatement<{ name_holder: string | null; email_holder: string | null; account_name: string | null }>('scim_provisioning_facts', `
  SELECT (SELECT user_id FROM scim_users WHERE account_id = $1 AND lower(user_name) = lower($2::text)) AS name_holder,
         (SELECT id FROM users WHERE lower(email) = $3::text) AS email_holder,
         (SELECT name FROM accounts WHERE id = $1) AS account_name`);

export async function findProvisioningFacts(
  db: Executor,
  { accountId, userName, email }: { accountId: string; userName: string; email: string },
): Promise<{ userNameHolder: string | null; emailHolder: string | null; accountName: string }> {
  const [row] = await provisioningFacts(db, [accountId, userName, email.toLowerCase()]);
  return { userNameHolder: row?.name_holder ?? null, emailHolder: row?.email_holder ?? null, accountName: row?.account_name ?? '' };
}

export interface ScimUserFields {
  user_name: string;
  external_id: string | null;
  display_name: string | null;
  attributes: Record<string, unknown>;
}

/** The SCIM row of one user of an account: its fields and the time they were written. */
export interface ScimUserWrite {
  accountId: string;
  userId: string;
  fields: ScimUserFields;
  now: Date;
}

export async function insertScimUser(db: Executor, row: ScimUserWrite): Promise<void> {
  await insertScimUserQuery(db, row).execute();
}

/** insertScimUser as a Write (db/together.ts): a creation sends it with the user's other rows. */
export const scimUserWrite = (db: Executor, row: ScimUserWrite): Write => writeOf(insertScimUserQuery(db, row).compile());

const insertScimUserQuery = (db: Executor, { accountId, userId, fields, now }: ScimUserWrite) =>
  db
    .insertInto('scim_users')
    .values({ user_id: userId, account_id: accountId, ...fields, attributes: JSON.stringify(fields.attributes), created_at: now, updated_at: now });

export async function updateScimUser(db: Executor, { accountId, userId, fields, now }: ScimUserWrite): Promise<void> {
  await db
    .updateTable('scim_users')
    .set({ ...fields, attributes: JSON.stringify(fields.attributes), updated_at: now })
    .where('account_id', '=', accountId)
    .where('user_id', '=', userId)
    .execute();
}

/** Whether the user already has a SCIM identity in the account. */
export async function hasScimUser(db: Executor, accountId: string, userId: string): Promise<boolean> {
  const row = await db.selectFrom('scim_users').select('user_id').where('account_id', '=', accountId).where('user_id', '=', userId).executeTakeFirst();
  return row !== undefined;
}

// ---- groups -------------------------------------------------------------------------------

const GROUP_COLUMNS = ['g.id', 'g.account_id', 'g.display_name', 'g.external_id', 'g.created_at', 'g.updated_at'] as const;

const groupsOf = (db: Executor, accountId: string) => db.selectFrom('scim_groups as g').where('g.account_id', '=', accountId);

export async function findScimGroup(db: Executor, accountId: string, groupId: string): Promise<ScimGroupRecord | undefined> {
  return groupsOf(db, accountId).select(GROUP_COLUMNS).where('g.id', '=', groupId).executeTakeFirst();
}

export async function lockScimGroup(db: Executor, accountId: string, groupId: string): Promise<ScimGroupRecord | undefined> {
  return groupsOf(db, accountId).select(GROUP_COLUMNS).where('g.id', '=', groupId).forUpdate().executeTakeFirst();
}

export async function listScimGroups(db: Executor, { accountId, filter, page }: ScimListQuery): Promise<{ total: number; rows: ScimGroupRecord[] }> {
  const base = filter ? groupsOf(db, accountId).where(filter) : groupsOf(db, accountId);
  const { n } = await base.select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
  const total = Number(n);
  if (page.limit === 0 || page.offset >= total) return { total, rows: [] };
  const rows = await base.select(GROUP_COLUMNS).orderBy('g.created_at').orderBy('g.id').offset(page.offset).limit(page.limit).execute();
  return { total, rows };
}

export async function findGroupIdByName(db: Executor, accountId: string, displayName: string): Promise<string | undefined> {
  const row = await db
    .selectFrom('scim_groups')
    .select('id')
    .where('account_id', '=', accountId)
    .where(sql<string>`lower(display_name)`, '=', sql<string>`lower(${displayName})`)
    .executeTakeFirst();
  return row?.id;
}

export interface ScimGroupFields {
  display_name: string;
  external_id: string | null;
}

/** The row of one group of an account: its fields and the time they were written. */
export interface ScimGroupWrite {
  accountId: string;
  id: string;
  fields: ScimGroupFields;
  now: Date;
}

export async function insertScimGroup(db: Executor, { accountId, id, fields, now }: ScimGroupWrite): Promise<void> {
  await db.insertInto('scim_groups').values({ id, account_id: accountId, ...fields, created_at: now, updated_at: now }).execute();
}

export async function updateScimGroup(db: Executor, { accountId, id, fields, now }: ScimGroupWrite): Promise<void> {
  await db.updateTable('scim_groups').set({ ...fields, updated_at: now }).where('account_id', '=', accountId).where('id', '=', id).execute();
}

export async function deleteScimGroup(db: Executor, accountId: string, id: string): Promise<void> {
  await db.deleteFrom('scim_groups').where('account_id', '=', accountId).where('id', '=', id).execute();
}

/** Of `userIds`, those that are SCIM users of the account (a group's members must be). */
export async function existingScimUserIds(db: Executor, accountId: string, userIds: string[]): Promise<Set<string>> {
  if (userIds.length === 0) return new Set();
  const rows = await usersOf(db, accountId).select('s.user_id').where('s.user_id', 'in', userIds).execute();
  return new Set(rows.map((row) => row.user_id));
}

/** The group's members (users of the account only). */
export async function listGroupMemberIds(db: Executor, accountId: string, groupId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('scim_group_members as m')
    .innerJoin('users as u', 'u.id', 'm.user_id')
    .select('m.user_id')
    .where('m.group_id', '=', groupId)
    .where('u.account_id', '=', accountId)
    .execute();
  return rows.map((row) => row.user_id);
}

/** Members of each of `groupIds`, with the userName to show as `display`. */
export async function listMembersOfGroups(
  db: Executor,
  accountId: string,
  groupIds: string[],
): Promise<Array<{ group_id: string; user_id: string; user_name: string }>> {
  if (groupIds.length === 0) return [];
  return db
    .selectFrom('scim_group_members as m')
    .innerJoin('scim_users as s', 's.user_id', 'm.user_id')
    .select(['m.group_id', 'm.user_id', 's.user_name'])
    .where('m.group_id', 'in', groupIds)
    .where('s.account_id', '=', accountId)
    .orderBy('s.user_name')
    .execute();
}

export async function addGroupMembers(db: Executor, groupId: string, userIds: string[]): Promise<void> {
  if (userIds.length === 0) return;
  await db
    .insertInto('scim_group_members')
    .values(userIds.map((user_id) => ({ group_id: groupId, user_id })))
    .onConflict((oc) => oc.doNothing())
    .execute();
}

export async function removeGroupMembers(db: Executor, groupId: string, userIds: string[]): Promise<void> {
  if (userIds.length === 0) return;
  await db.deleteFrom('scim_group_members').where('group_id', '=', groupId).where('user_id', 'in', userIds).execute();
}

/** The display names of the account's groups each of `userIds` belongs to. */
export async function listGroupsOfUsers(
  db: Executor,
  accountId: string,
  userIds: string[],
): Promise<Array<{ user_id: string; group_id: string; display_name: string }>> {
  if (userIds.length === 0) return [];
  return db
    .selectFrom('scim_group_members as m')
    .innerJoin('scim_groups as g', 'g.id', 'm.group_id')
    .select(['m.user_id', 'm.group_id', 'g.display_name'])
    .where('g.account_id', '=', accountId)
    .where('m.user_id', 'in', userIds)
    .orderBy('g.display_name')
    .execute();
}

/** Every user of the account who is in some group (a change of the mapping re-derives their roles). */
export async function listGroupedUserIds(db: Executor, accountId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('scim_group_members as m')
    .innerJoin('scim_groups as g', 'g.id', 'm.group_id')
    .select('m.user_id')
    .distinct()
    .where('g.account_id', '=', accountId)
    .execute();
  return rows.map((row) => row.user_id);
}
