// Account (tenant) invites as registration uses them.
import type { Kysely } from 'kysely';
import type { AccountInviteRow, Database } from '../../db/schema.js';

export async function lockAccountInvite(db: Kysely<Database>, code: string): Promise<AccountInviteRow | undefined> {
  return db.selectFrom('account_invites').selectAll().where('code', '=', code).forUpdate().executeTakeFirst();
}

export async function markAccountInviteAccepted(db: Kysely<Database>, id: string, userId: string, now: Date): Promise<void> {
  await db.updateTable('account_invites').set({ accepted_by_id: userId, used_at: now }).where('id', '=', id).execute();
}
