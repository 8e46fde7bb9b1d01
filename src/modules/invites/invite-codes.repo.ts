// Platform invite codes: the only place that queries invite_codes.
import type { Kysely } from 'kysely';
import type { Database, InviteCodeRow } from '../../db/schema.js';

/** Locks the row until the transaction ends, so two registrations cannot both spend it. */
export async function lockInviteCode(db: Kysely<Database>, code: string): Promise<InviteCodeRow | undefined> {
  return db.selectFrom('invite_codes').selectAll().where('code', '=', code.toUpperCase()).forUpdate().executeTakeFirst();
}

export async function markInviteCodeUsed(db: Kysely<Database>, id: string, userId: string, now: Date): Promise<void> {
  await db.updateTable('invite_codes').set({ used_by_id: userId, used_at: now }).where('id', '=', id).execute();
}
