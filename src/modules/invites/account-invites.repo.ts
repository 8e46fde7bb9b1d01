// Account (tenant) invites: the only place that queries account_invites.
import type { AccountInviteRow } from '../../db/schema.js';
import type { Executor } from '../../db/database.js';
import { singleUse } from '../../db/single-use.repo.js';

/** An invite is accepted once (db/single-use.repo.ts). */
const accountInvites = singleUse('account_invites', { key: 'id' });

export async function lockAccountInvite(db: Executor, code: string): Promise<AccountInviteRow | undefined> {
  return db.selectFrom('account_invites').selectAll().where('code', '=', code).forUpdate().executeTakeFirst();
}

export interface InviteAcceptance {
  id: string;
  userId: string;
  now: Date;
}

/** Spends the invite lockAccountInvite checked (locked, so the conditional spend matches). */
export async function markAccountInviteAccepted(db: Executor, { id, userId, now }: InviteAcceptance): Promise<void> {
  await accountInvites.spend(db, { match: { id }, now, returning: ['id'], set: { accepted_by_id: userId } });
}

export interface NewAccountInvite {
  accountId: string;
  code: string;
  email: string;
  role: AccountInviteRow['role'];
  invitedById: string;
  expiresAt: Date;
  now: Date;
}

export async function insertAccountInvite(db: Executor, invite: NewAccountInvite): Promise<AccountInviteRow> {
  return db
    .insertInto('account_invites')
    .values({
      account_id: invite.accountId,
      code: invite.code,
      email: invite.email,
      role: invite.role,
      invited_by_id: invite.invitedById,
      expires_at: invite.expiresAt,
      created_at: invite.now,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export interface OpenInvitesForEmail {
  accountId: string;
  email: string;
  now: Date;
}

/** Open = neither used nor revoked (expired ones included: they still block a new one). */
export async function revokeOpenInvitesForEmail(db: Executor, { accountId, email, now }: OpenInvitesForEmail): Promise<string[]> {
  const rows = await db
    .updateTable('account_invites')
    .set({ revoked_at: now })
    .where('account_id', '=', accountId)
    .where('email', '=', email)
    .where('used_at', 'is', null)
    .where('revoked_at', 'is', null)
    .returning('id')
    .execute();
  return rows.map((row) => row.id);
}

export interface OpenInviteRevocation {
  accountId: string;
  id: string;
  now: Date;
}

/** The conditional UPDATE is the check: a used, revoked or foreign invite matches nothing. */
export async function revokeOpenInvite(db: Executor, { accountId, id, now }: OpenInviteRevocation): Promise<AccountInviteRow | undefined> {
  return db
    .updateTable('account_invites')
    .set({ revoked_at: now })
    .where('id', '=', id)
    .where('account_id', '=', accountId)
    .where('used_at', 'is', null)
    .where('revoked_at', 'is', null)
    .returningAll()
    .executeTakeFirst();
}

export async function listOpenAccountInvites(db: Executor, accountId: string): Promise<AccountInviteRow[]> {
  return db
    .selectFrom('account_invites')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('used_at', 'is', null)
    .where('revoked_at', 'is', null)
    .orderBy('created_at', 'desc')
    .orderBy('id')
    .execute();
}
