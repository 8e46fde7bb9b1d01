// scim_tokens and scim_settings: the only place that queries them. Every function takes the
// account first: a token, a listing or a setting is always the caller's account's.
import type { Executor } from '../../db/database.js';
import { preparedStatement } from '../../db/prepared.js';

export interface ScimTokenRow {
  id: string;
  account_id: string;
  description: string | null;
  created_at: Date;
  last_used_at: Date | null;
}

const PUBLIC_COLUMNS = ['id', 'account_id', 'description', 'created_at', 'last_used_at'] as const;

export async function insertScimToken(
  db: Executor,
  row: { id: string; accountId: string; tokenHash: string; description: string | null; createdBy: string; now: Date },
): Promise<ScimTokenRow> {
  return db
    .insertInto('scim_tokens')
    .values({ id: row.id, account_id: row.accountId, token_hash: row.tokenHash, description: row.description, created_by: row.createdBy, created_at: row.now })
    .returning(PUBLIC_COLUMNS)
    .executeTakeFirstOrThrow();
}

export async function listScimTokens(db: Executor, accountId: string): Promise<ScimTokenRow[]> {
  return db.selectFrom('scim_tokens').select(PUBLIC_COLUMNS).where('account_id', '=', accountId).orderBy('created_at', 'desc').orderBy('id').execute();
}

export async function deleteScimToken(db: Executor, accountId: string, id: string): Promise<ScimTokenRow | undefined> {
  return db.deleteFrom('scim_tokens').where('account_id', '=', accountId).where('id', '=', id).returning(PUBLIC_COLUMNS).executeTakeFirst();
}

// Every SCIM request starts with it: prepared (db/prepared.ts).
const tokenByHash = preparedStatement<ScimTokenRow>('scim_token_by_hash', `
  SELECT ${PUBLIC_COLUMNS.join(', ')} FROM scim_tokens WHERE token_hash = $1`);

/** The token whose hash this is (an index equality on the unique hash). */
export async function findScimTokenByHash(db: Executor, tokenHash: string): Promise<ScimTokenRow | undefined> {
  const [row] = await tokenByHash(db, [tokenHash]);
  return row;
}

/** Records a use, at most once per `everyMs` per token (a conditional update: no write per request). */
export async function touchScimToken(db: Executor, { id, now, everyMs }: { id: string; now: Date; everyMs: number }): Promise<void> {
  await db
    .updateTable('scim_tokens')
    .set({ last_used_at: now })
    .where('id', '=', id)
    .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', new Date(now.getTime() - everyMs))]))
    .execute();
}

export type GroupRoles = Record<string, 'admin' | 'member'>;

export async function findGroupRoles(db: Executor, accountId: string): Promise<GroupRoles> {
  const row = await db.selectFrom('scim_settings').select('group_roles').where('account_id', '=', accountId).executeTakeFirst();
  return row?.group_roles ?? {};
}

export async function saveGroupRoles(db: Executor, { accountId, groupRoles, now }: { accountId: string; groupRoles: GroupRoles; now: Date }): Promise<void> {
  const json = JSON.stringify(groupRoles);
  await db
    .insertInto('scim_settings')
    .values({ account_id: accountId, group_roles: json, updated_at: now })
    .onConflict((oc) => oc.column('account_id').doUpdateSet({ group_roles: json, updated_at: now }))
    .execute();
}
