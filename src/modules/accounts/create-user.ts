// The one function that creates a user: registration, OAuth sign-up, create-admin and
// `keyhold import` all come here, so a new user always gets the same things in the same
// transaction: an account to belong to (the inviting one, the one an operator's import names,
// or a personal account with its subscription), the invites they presented marked spent, and
// the audit row. Whether to mail a verification link is the caller's (a sign-up does; an
// operator's import or create-admin does not). It lives with the accounts (every user belongs
// to one), above users/ (the row and its schema) and invites/ (the spent invites), and below
// every caller (auth, oauth, sso, admin, scim, import-export).
//
// createUsers is the same function for many users at once: the rows are built by the same
// code and written with one multi-row statement per table, which is what lets an import reach
// thousands of users a second. createUser is createUsers of one, after the address check.
//
// Events: a user who signs up (or is created by an operator) is announced to webhooks
// (user.created; account.member_added when joining an account by invite or by a directory's
// provisioning (SCIM); subscription.created for a personal account), in this transaction. An import is not: those users already exist in the
// operator's world, and a bulk move would otherwise flood every subscriber with historic sign-ups.
import { randomUUID } from 'node:crypto';
import type { AppContext, RequestMeta } from '../../context.js';
import type { AccountInviteRow, InviteCodeRow, NewUser, UserRow } from '../../db/schema.js';
import { Errors } from '../../lib/errors.js';
import { createPersonalAccounts } from './personal-account.js';
import type { AuditAction } from '../audit/audit-actions.js';
import { auditsWrite } from '../audit/audit.repo.js';
import { markAccountInviteAccepted } from '../invites/account-invites.repo.js';
import { markInviteCodeUsed } from '../invites/invite-codes.repo.js';
import { findUserByEmail, insertUsers } from '../users/users.repo.js';
import { eventWrites } from '../events/events.repo.js';
import { newEvent } from '../events/emit-event.js';
import { writeTogether, type Write } from '../../db/together.js';
import { toUserResponse } from '../users/user.schemas.js';
import type { Executor } from '../../db/database.js';

export type AccountRole = 'owner' | 'admin' | 'member';

export interface NewUserInput {
  /** The new user's id, when the caller needs it before the row exists (for its `also` writes). */
  id?: string;
  /** Already normalised (trimmed, lower-cased). */
  email: string;
  name: string;
  /** Null: a user who signs in only through a provider. */
  passwordHash: string | null;
  role?: 'engineer' | 'admin';
  /** Set when the address is already proven (a trusted provider, an operator). */
  emailVerifiedAt: Date | null;
  /** Checked and row-locked by the caller (claimInvites) in this transaction. */
  accountInvite?: AccountInviteRow | null;
  inviteCode?: InviteCodeRow | null;
  /** An existing account to join with this role, no invite involved: an operator's import. */
  membership?: { accountId: string; role: AccountRole } | null;
  /** Imported users keep their history; everyone else is created now. */
  createdAt?: Date;
  isActive?: boolean;
  mustChangePassword?: boolean;
  /** Profile fields a directory provides (SCIM); others leave them empty. */
  profile?: { phone: string | null; jobTitle: string | null; timezone: string | null };
  /** What the audit row says: which way the user came in. */
  audit: { action: AuditAction; details?: Record<string, unknown> };
}

export interface CreateUser {
  input: NewUserInput;
  meta: RequestMeta | null;
}

/** Call inside a transaction; `Email already registered` (400) if the address is taken. */
export async function createUser(
  ctx: Pick<AppContext, 'config' | 'clock'>,
  trx: Executor,
  { input, meta }: CreateUser,
): Promise<UserRow> {
  if (await findUserByEmail(trx, input.email)) throw Errors.emailAlreadyRegistered();
  const [user] = await createUsers(ctx, trx, { inputs: [input], meta, announce: true });
  return user!;
}

/**
 * Creates many users in the caller's transaction and returns their rows, in input order. The
 * caller has made sure no address is taken or given twice (a clash fails the statement, and
 * so the transaction, with a unique violation).
 */
export async function createUsers(
  ctx: Pick<AppContext, 'config' | 'clock'>,
  trx: Executor,
  options: {
    inputs: NewUserInput[];
    meta: RequestMeta | null;
    announce: boolean;
    /** The caller's own writes, sent in the statement that writes the audit rows and events. */
    also?: readonly Write[];
  },
): Promise<UserRow[]> {
  const { inputs, meta } = options;
  const now = ctx.clock.now();
  const ids = inputs.map((input) => input.id ?? randomUUID());

  // Everyone who joins no existing account owns a personal one.
  const personal = inputs.flatMap((input, i) => (joinedAccount(input) ? [] : [i]));
  const personalAccountIds = await createPersonalAccounts(
    trx,
    personal.map((i) => ({ ownerId: ids[i]!, ownerName: inputs[i]!.name, inviteCode: inputs[i]!.inviteCode ?? null, trialDays: ctx.config.trialDays, now })),
    options,
  );
  const accountIds = inputs.map((input) => joinedAccount(input)?.accountId ?? '');
  personal.forEach((i, n) => (accountIds[i] = personalAccountIds[n]!));

  const rows = await insertUsers(trx, inputs.map((input, i) => userRow(input, { id: ids[i]!, accountId: accountIds[i]!, now })));
  for (const [i, input] of inputs.entries()) {
    if (input.accountInvite) await markAccountInviteAccepted(trx, { id: input.accountInvite.id, userId: ids[i]!, now });
    if (input.inviteCode) await markInviteCodeUsed(trx, { id: input.inviteCode.id, userId: ids[i]!, now });
  }
  // The audit rows, the events and the caller's writes: one statement (db/together.ts).
  const writes: Write[] = [];
  writes.push(auditsWrite(
    trx,
    meta,
    inputs.map((input, i) => ({
      action: input.audit.action,
      userId: ids[i]!,
      resourceType: 'user',
      resourceId: ids[i]!,
      details: { account_id: accountIds[i]!, ...input.audit.details },
    })),
  ));
  const byId = new Map(rows.map((row) => [row.id, row]));
  const users = ids.map((id) => byId.get(id)!);
  if (options.announce) {
    for (const [i, user] of users.entries()) {
      writes.push(...eventWrites(trx, newEvent(ctx, 'user.created', toUserResponse(user))));
      // Joining an existing account (an invite, or a directory's provisioning) is announced as such.
      if (inputs[i]!.accountInvite || inputs[i]!.membership) {
        const data = { account_id: user.account_id, user_id: user.id, role: user.account_role };
        writes.push(...eventWrites(trx, newEvent(ctx, 'account.member_added', data)));
      }
    }
  }
  await writeTogether(trx, [...writes, ...(options.also ?? [])]);
  return users;
}

/** The account a user joins instead of getting a personal one, and their role in it. */
function joinedAccount(input: NewUserInput): { accountId: string; role: AccountRole } | null {
  if (input.accountInvite) return { accountId: input.accountInvite.account_id, role: input.accountInvite.role };
  return input.membership ?? null;
}

function userRow(input: NewUserInput, { id, accountId, now }: { id: string; accountId: string; now: Date }): NewUser {
  const createdAt = input.createdAt ?? now;
  return {
    id,
    email: input.email,
    password_hash: input.passwordHash,
    name: input.name,
    role: input.role ?? 'engineer',
    account_id: accountId,
    account_role: joinedAccount(input)?.role ?? 'owner',
    is_active: input.isActive ?? true,
    must_change_password: input.mustChangePassword ?? false,
    phone: input.profile?.phone ?? null,
    job_title: input.profile?.jobTitle ?? null,
    timezone: input.profile?.timezone ?? null,
    email_verified_at: input.emailVerifiedAt,
    invite_code_id: input.inviteCode?.id ?? null,
    created_at: createdAt,
    updated_at: now,
  };
}
