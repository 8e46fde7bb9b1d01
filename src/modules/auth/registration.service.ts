// POST /auth/register: invite gating, the user, their account and subscription, the
// invite spent, the audit row and the verification email, in one transaction.
import type { AppContext, RequestMeta } from '../../context.js';
import type { AccountInviteRow, InviteCodeRow, UserRow } from '../../db/schema.js';
import { isUniqueViolation } from '../../db/errors.js';
import { Errors } from '../../lib/errors.js';
import { normalizeEmail } from '../../lib/email-address.js';
import { lockAccountInvite } from '../invites/account-invites.repo.js';
import { lockInviteCode } from '../invites/invite-codes.repo.js';
import { createUser } from '../accounts/create-user.js';
import { queueVerificationEmail } from './email-verification.js';
import type { Executor } from '../../db/database.js';
import { inUnitOfWork } from '../../db/unit-of-work.js';

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
    const user = await inUnitOfWork(ctx, async (trx) => {
      const claimed = await claimInvites(ctx, trx, { input: { ...input, email }, now: ctx.clock.now() });
      const created = await createUser(ctx, trx, {
        input: {
          email,
          name: input.name.trim(),
          passwordHash,
          emailVerifiedAt: null,
          ...claimed,
          audit: { action: 'auth.register', details: { via: claimed.accountInvite ? 'account_invite' : claimed.inviteCode ? 'invite_code' : 'self_serve' } },
        },
        meta,
      });
      await queueVerificationEmail(ctx, trx, created);
      return created;
    });
    return user;
  } catch (err) {
    // Two registrations of one address at once: the unique index decides.
    if (isUniqueViolation(err, 'users_email_key')) throw Errors.emailAlreadyRegistered();
    throw err;
  }
}

export interface ClaimInvites {
  input: { email: string; invite_code?: string | null; account_invite_code?: string | null };
  now: Date;
}

export interface ClaimedInvites {
  accountInvite: AccountInviteRow | null;
  inviteCode: InviteCodeRow | null;
}

/**
 * Checks (and row-locks) the invites a registration presents, in the reference's order.
 * Shared with OAuth sign-up, which follows the same gating rules.
 */
export async function claimInvites(ctx: Pick<AppContext, 'config'>, trx: Executor, { input, now }: ClaimInvites): Promise<ClaimedInvites> {
  if (input.account_invite_code) {
    const invite = await lockAccountInvite(trx, input.account_invite_code);
    if (!invite || invite.revoked_at) throw Errors.invalidAccountInviteCode();
    if (invite.used_at) throw Errors.accountInviteCodeUsed();
    if (invite.expires_at.getTime() <= now.getTime()) throw Errors.accountInviteCodeExpired();
    if (invite.email !== normalizeEmail(input.email)) throw Errors.inviteEmailMismatch();
    return { accountInvite: invite, inviteCode: null };
  }

  if (ctx.config.requireInviteCode && !ctx.config.selfServeEnabled && !input.invite_code) {
    throw Errors.inviteCodeRequired();
  }
  if (!input.invite_code) return { accountInvite: null, inviteCode: null };

  const code = await lockInviteCode(trx, input.invite_code);
  if (!code) throw Errors.invalidInviteCode();
  if (code.used_at) throw Errors.inviteCodeUsed();
  if (code.expires_at && code.expires_at.getTime() <= now.getTime()) throw Errors.inviteCodeExpired();
  return { accountInvite: null, inviteCode: code };
}
