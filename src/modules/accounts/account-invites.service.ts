// Inviting people into the caller's account. An invite is a random, single-use code bound
// to one email address and one role, valid for ACCOUNT_INVITE_TTL_DAYS; registration with
// `account_invite_code` spends it (see auth/registration.service.ts claimInvites). With the
// accounts, as it checks that the inviter manages the account; the invite rows' SQL is
// invites/account-invites.repo.ts (below, with the invite codes).
import type { AppContext, RequestMeta } from '../../context.js';
import type { AccountInviteRow, UserRow } from '../../db/schema.js';
import { isUniqueViolation } from '../../db/errors.js';
import { addDays } from '../../lib/clock.js';
import { normalizeEmail } from '../../lib/email-address.js';
import { Errors } from '../../lib/errors.js';
import { randomToken } from '../../lib/random.js';
import { findAccountName, isAccountMemberEmail } from './accounts.repo.js';
import { lockManager, requireAccountManager, type AssignableAccountRole } from './accounts.service.js';
import { recordAudit } from '../audit/audit.repo.js';
import { emitEvent } from '../events/emit-event.js';
import { enqueueEmail } from '../email/email-job.js';
import { accountInviteMessage } from '../email/templates.js';
import {
  insertAccountInvite,
  listOpenAccountInvites,
  revokeOpenInvite,
  revokeOpenInvitesForEmail,
} from '../invites/account-invites.repo.js';
import { inUnitOfWork } from '../../db/unit-of-work.js';

export const ACCOUNT_INVITE_TTL_DAYS = 7;
const OPEN_INVITE_INDEX = 'account_invites_open_key';

type Deps = Pick<AppContext, 'db' | 'clock' | 'config' | 'jobs'>;

export interface AccountInviteInput {
  email: string;
  role: AssignableAccountRole;
}

export interface CreateAccountInvite {
  actor: UserRow;
  input: AccountInviteInput;
  meta: RequestMeta | null;
}

export async function createAccountInvite(ctx: Deps, { actor, input, meta }: CreateAccountInvite): Promise<AccountInviteRow> {
  requireAccountManager(actor);
  const email = normalizeEmail(input.email);
  // Two re-invites of one address at once: the partial unique index lets one insert win;
  // the loser runs again, now revoking the winner's invite, so the last one stands.
  for (let attempt = 1; ; attempt++) {
    try {
      const invite = await inUnitOfWork(ctx, async (trx) => {
        await lockManager(trx, actor);
        if (await isAccountMemberEmail(trx, actor.account_id, email)) {
          throw Errors.alreadyAMember();
        }
        const now = ctx.clock.now();
        const replaced = await revokeOpenInvitesForEmail(trx, { accountId: actor.account_id, email, now });
        const invite = await insertAccountInvite(trx, {
          accountId: actor.account_id,
          code: randomToken(24),
          email,
          role: input.role,
          invitedById: actor.id,
          expiresAt: addDays(now, ACCOUNT_INVITE_TTL_DAYS),
          now,
        });
        const accountName = await findAccountName(trx, actor.account_id);
        await enqueueEmail(trx, accountInviteMessage(ctx.config.frontendUrl, email, { accountName, code: invite.code }));
        await recordAudit(trx, meta, {
          action: 'account.invite_created',
          userId: actor.id,
          resourceType: 'account_invite',
          resourceId: invite.id,
          details: { account_id: actor.account_id, email, role: input.role, replaced_invite_ids: replaced },
        });
        await emitEvent(ctx, trx, {
          type: 'account.invite_created',
          data: {
            id: invite.id,
            account_id: actor.account_id,
            email,
            role: input.role,
            expires_at: invite.expires_at.toISOString(),
          },
        });
        return invite;
      });
      return invite;
    } catch (err) {
      if (attempt < 3 && isUniqueViolation(err, OPEN_INVITE_INDEX)) continue;
      throw err;
    }
  }
}

/** The account's open invites (not used, not revoked; expired ones too, so they can be re-sent). */
export async function listAccountInvites(ctx: Pick<AppContext, 'db'>, actor: UserRow): Promise<AccountInviteRow[]> {
  requireAccountManager(actor);
  return listOpenAccountInvites(ctx.db, actor.account_id);
}

export interface RevokeAccountInvite {
  actor: UserRow;
  inviteId: string;
  meta: RequestMeta | null;
}

export async function revokeAccountInvite(ctx: Pick<AppContext, 'db' | 'clock' | 'jobs'>, { actor, inviteId, meta }: RevokeAccountInvite): Promise<void> {
  requireAccountManager(actor);
  await inUnitOfWork(ctx, async (trx) => {
    await lockManager(trx, actor);
    // Unknown, already used or revoked, or another account's: all the same 404.
    const revoked = await revokeOpenInvite(trx, { accountId: actor.account_id, id: inviteId, now: ctx.clock.now() });
    if (!revoked) throw Errors.inviteNotFound();
    await recordAudit(trx, meta, {
      action: 'account.invite_revoked',
      userId: actor.id,
      resourceType: 'account_invite',
      resourceId: revoked.id,
      details: { account_id: actor.account_id, email: revoked.email, role: revoked.role },
    });
  });
}
