// The one function that creates a user: registration, OAuth sign-up, create-admin and (later)
// import all come here, so a new user always gets the same things in the same transaction:
// an account to belong to (the inviting one, or a personal account with its subscription),
// the invites they presented marked spent, and the audit row. Whether to mail a verification
// link is the caller's (a sign-up does; an operator's import or create-admin does not).
import { randomUUID } from 'node:crypto';
import type { AppContext, RequestMeta } from '../../context.js';
import type { AccountInviteRow, InviteCodeRow, UserRow } from '../../db/schema.js';
import { Errors } from '../../lib/errors.js';
import { createPersonalAccount } from '../accounts/personal-account.js';
import type { AuditAction } from '../audit/audit-actions.js';
import { recordAudit } from '../audit/audit.repo.js';
import { markAccountInviteAccepted } from '../invites/account-invites.repo.js';
import { markInviteCodeUsed } from '../invites/invite-codes.repo.js';
import { findUserByEmail, insertUser } from './users.repo.js';
import { emitEvent } from '../events/emit-event.js';
import { toUserResponse } from './user.schemas.js';
import type { Executor } from '../../db/database.js';

export interface NewUserInput {
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
  /** What the audit row says: which way the user came in. */
  audit: { action: AuditAction; details?: Record<string, unknown> };
}

/** Call inside a transaction; `Email already registered` (400) if the address is taken. */
export async function createUser(
  ctx: Pick<AppContext, 'config' | 'clock'>,
  trx: Executor,
  input: NewUserInput,
  meta: RequestMeta | null,
): Promise<UserRow> {
  const now = ctx.clock.now();
  if (await findUserByEmail(trx, input.email)) throw Errors.emailAlreadyRegistered();
  const { accountInvite = null, inviteCode = null } = input;

  const userId = randomUUID();
  const accountId = accountInvite
    ? accountInvite.account_id
    : await createPersonalAccount(trx, { ownerId: userId, ownerName: input.name, inviteCode, trialDays: ctx.config.trialDays, now });
  const user = await insertUser(trx, {
    id: userId,
    email: input.email,
    password_hash: input.passwordHash,
    name: input.name,
    ...(input.role ? { role: input.role } : {}),
    account_id: accountId,
    account_role: accountInvite ? accountInvite.role : 'owner',
    email_verified_at: input.emailVerifiedAt,
    invite_code_id: inviteCode?.id ?? null,
    created_at: now,
    updated_at: now,
  });
  if (accountInvite) await markAccountInviteAccepted(trx, accountInvite.id, user.id, now);
  if (inviteCode) await markInviteCodeUsed(trx, inviteCode.id, user.id, now);
  await recordAudit(trx, meta, {
    action: input.audit.action,
    userId: user.id,
    resourceType: 'user',
    resourceId: user.id,
    details: { account_id: accountId, ...input.audit.details },
  });
  await emitEvent(ctx, trx, 'user.created', toUserResponse(user));
  if (accountInvite) await emitEvent(ctx, trx, 'account.member_added', { account_id: accountId, user_id: user.id, role: user.account_role });
  return user;
}
