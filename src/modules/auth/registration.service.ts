// POST /auth/register: invite gating, the user, their account and subscription, the
// invite spent, the audit row and the verification email, in one transaction.
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { AppContext, RequestMeta } from '../../context.js';
import type { AccountInviteRow, Database, InviteCodeRow, UserRow } from '../../db/schema.js';
import { isUniqueViolation } from '../../db/errors.js';
import { badRequest } from '../../lib/errors.js';
import { normalizeEmail } from '../../lib/email-address.js';
import { createPersonalAccount } from '../accounts/personal-account.js';
import { recordAudit } from '../audit/audit.repo.js';
import { lockAccountInvite, markAccountInviteAccepted } from '../invites/account-invites.repo.js';
import { lockInviteCode, markInviteCodeUsed } from '../invites/invite-codes.repo.js';
import { findUserByEmail, insertUser } from '../users/users.repo.js';
import { queueVerificationEmail } from './email-verification.js';

export interface RegistrationInput {
  email: string;
  password: string;
  name: string;
  invite_code?: string | null;
  account_invite_code?: string | null;
}

export async function register(ctx: AppContext, input: RegistrationInput, meta: RequestMeta): Promise<UserRow> {
  const email = normalizeEmail(input.email);
  // Hash before the transaction opens: argon2 takes tens of milliseconds, and row locks
  // and pooled connections should not wait on it.
  const passwordHash = await ctx.passwords.hash(input.password);
  try {
    const user = await ctx.db.transaction().execute((trx) =>
      createUser(ctx, trx, { ...input, email, name: input.name.trim() }, passwordHash, meta),
    );
    ctx.outbox.notify();
    return user;
  } catch (err) {
    // Two registrations of one address at once: the unique index decides.
    if (isUniqueViolation(err, 'users_email_key')) throw badRequest('Email already registered');
    throw err;
  }
}

async function createUser(
  ctx: AppContext,
  trx: Kysely<Database>,
  input: RegistrationInput,
  passwordHash: string | null,
  meta: RequestMeta,
): Promise<UserRow> {
  const now = ctx.clock.now();
  const { accountInvite, inviteCode } = await claimInvites(ctx, trx, input, now);

  if (await findUserByEmail(trx, input.email)) throw badRequest('Email already registered');

  const userId = randomUUID();
  const accountId = accountInvite
    ? accountInvite.account_id
    : await createPersonalAccount(trx, { ownerId: userId, ownerName: input.name, inviteCode, trialDays: ctx.config.trialDays, now });
  const user = await insertUser(trx, {
    id: userId,
    email: input.email,
    password_hash: passwordHash,
    name: input.name,
    account_id: accountId,
    account_role: accountInvite ? accountInvite.role : 'owner',
    invite_code_id: inviteCode?.id ?? null,
    created_at: now,
    updated_at: now,
  });

  if (accountInvite) await markAccountInviteAccepted(trx, accountInvite.id, user.id, now);
  if (inviteCode) await markInviteCodeUsed(trx, inviteCode.id, user.id, now);
  await recordAudit(trx, meta, {
    action: 'auth.register',
    userId: user.id,
    resourceType: 'user',
    resourceId: user.id,
    details: { account_id: accountId, via: accountInvite ? 'account_invite' : inviteCode ? 'invite_code' : 'self_serve' },
  });
  await queueVerificationEmail(ctx, trx, user);
  return user;
}

export interface ClaimedInvites {
  accountInvite: AccountInviteRow | null;
  inviteCode: InviteCodeRow | null;
}

/**
 * Checks (and row-locks) the invites a registration presents, in the reference's order.
 * Shared with OAuth sign-up, which follows the same gating rules.
 */
export async function claimInvites(
  ctx: Pick<AppContext, 'config'>,
  trx: Kysely<Database>,
  input: { email: string; invite_code?: string | null; account_invite_code?: string | null },
  now: Date,
): Promise<ClaimedInvites> {
  if (input.account_invite_code) {
    const invite = await lockAccountInvite(trx, input.account_invite_code);
    if (!invite || invite.revoked_at) throw badRequest('Invalid account invite code');
    if (invite.used_at) throw badRequest('Account invite code has already been used');
    if (invite.expires_at.getTime() <= now.getTime()) throw badRequest('Account invite code has expired');
    if (invite.email !== normalizeEmail(input.email)) throw badRequest({ error: 'invite_email_mismatch' });
    return { accountInvite: invite, inviteCode: null };
  }

  if (ctx.config.requireInviteCode && !ctx.config.selfServeEnabled && !input.invite_code) {
    throw badRequest('Invite code is required');
  }
  if (!input.invite_code) return { accountInvite: null, inviteCode: null };

  const code = await lockInviteCode(trx, input.invite_code);
  if (!code) throw badRequest('Invalid invite code');
  if (code.used_at) throw badRequest('Invite code has already been used');
  if (code.expires_at && code.expires_at.getTime() <= now.getTime()) throw badRequest('Invite code has expired');
  return { accountInvite: null, inviteCode: code };
}
