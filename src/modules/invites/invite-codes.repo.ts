// Platform invite codes: the only place that queries invite_codes.
import type { Kysely } from 'kysely';
import type { Database, InviteCodeRow } from '../../db/schema.js';
import { Errors } from '../../lib/errors.js';
import { singleUse } from '../../db/single-use.repo.js';

/** A platform invite code is spent once (db/single-use.repo.ts). */
const inviteCodes = singleUse('invite_codes', { key: 'id' });

type Executor = Kysely<Database>;

/** Locks the row until the transaction ends, so two registrations cannot both spend it. */
export async function lockInviteCode(db: Executor, code: string): Promise<InviteCodeRow | undefined> {
  return db.selectFrom('invite_codes').selectAll().where('code', '=', code.toUpperCase()).forUpdate().executeTakeFirst();
}

export interface InviteCodeUse {
  id: string;
  userId: string;
  now: Date;
}

/**
 * Spends the code. The row lock of lockInviteCode already serialises registrations; the
 * `used_at IS NULL` guard makes the database itself refuse a second spend, so the caller's
 * transaction fails (and rolls back) with the contract's answer even if the lock were lost.
 */
export async function markInviteCodeUsed(db: Executor, { id, userId, now }: InviteCodeUse): Promise<void> {
  const spent = await inviteCodes.spend(db, { match: { id }, now, returning: ['id'], set: { used_by_id: userId } });
  if (!spent) throw Errors.inviteCodeUsed();
}

export interface NewInviteCode {
  code: string;
  assignedPlan: string | null;
  trialDurationDays: number | null;
  expiresAt: Date | null;
  createdById: string | null;
  now: Date;
}

/** Inserts the code unless it already exists (then undefined: the caller draws another). */
export async function insertInviteCode(db: Executor, code: NewInviteCode): Promise<InviteCodeRow | undefined> {
  return db
    .insertInto('invite_codes')
    .values({
      code: code.code,
      assigned_plan: code.assignedPlan,
      trial_duration_days: code.trialDurationDays,
      expires_at: code.expiresAt,
      created_by_id: code.createdById,
      created_at: code.now,
    })
    .onConflict((oc) => oc.column('code').doNothing())
    .returningAll()
    .executeTakeFirst();
}

export type InviteCodeWithUser = InviteCodeRow & { used_by_email: string | null };

export async function listInviteCodes(db: Executor, page: { limit: number; offset: number }): Promise<InviteCodeWithUser[]> {
  return db
    .selectFrom('invite_codes')
    .leftJoin('users', 'users.id', 'invite_codes.used_by_id')
    .selectAll('invite_codes')
    .select('users.email as used_by_email')
    .orderBy('invite_codes.created_at', 'desc')
    .orderBy('invite_codes.id')
    .limit(page.limit)
    .offset(page.offset)
    .execute();
}
