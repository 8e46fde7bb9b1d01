// GET and PATCH /auth/me.
import type { AppContext, RequestMeta } from '../../context.js';
import type { UserRow } from '../../db/schema.js';
import { isUniqueViolation } from '../../db/errors.js';
import { Errors } from '../../lib/errors.js';
import { normalizeEmail } from '../../lib/email-address.js';
import { recordAudit } from '../audit/audit.repo.js';
import { retireResetTokens } from '../passwords/passwords.repo.js';
import { findUserByEmail, updateUser } from '../users/users.repo.js';
import { emitEvent } from '../events/emit-event.js';
import { toUserResponse } from '../users/user.schemas.js';
import { queueVerificationEmail } from './email-verification.js';
import { rejectPasswordless, verifyCurrentPassword } from '../lockout/password-check.js';
import { inUnitOfWork } from '../../db/unit-of-work.js';

export interface ProfileChanges {
  name?: string | null;
  email?: string;
  current_password?: string | null;
  phone?: string | null;
  job_title?: string | null;
  timezone?: string | null;
}

const PROFILE_FIELDS = ['phone', 'job_title', 'timezone'] as const;

export interface UpdateProfile {
  user: UserRow;
  changes: ProfileChanges;
  meta: RequestMeta;
}

export async function updateProfile(ctx: AppContext, { user, changes, meta }: UpdateProfile): Promise<UserRow> {
  const fields = Object.keys(changes).filter((key) => key !== 'current_password');
  if (fields.length === 0) return user;

  const update: Partial<Pick<UserRow, 'name' | 'email' | 'phone' | 'job_title' | 'timezone' | 'email_verified_at'>> = {};
  let newEmail: string | undefined;
  if (changes.email !== undefined) {
    newEmail = normalizeEmail(changes.email);
    if (newEmail !== user.email) {
      await rejectPasswordless(ctx, user);
      if (!changes.current_password) throw Errors.currentPasswordRequiredForEmail();
      await verifyCurrentPassword(ctx, meta, { user, password: changes.current_password, purpose: 'email_change' });
      const holder = await findUserByEmail(ctx.db, newEmail);
      if (holder && holder.id !== user.id) throw Errors.emailAlreadyRegistered();
      update.email = newEmail;
      update.email_verified_at = null;
    } else {
      newEmail = undefined;
    }
  }
  if (changes.name !== undefined && changes.name !== null) update.name = changes.name.trim();
  for (const field of PROFILE_FIELDS) {
    if (changes[field] !== undefined) update[field] = changes[field] ?? null;
  }

  const now = ctx.clock.now();
  try {
    const updated = await inUnitOfWork(ctx, async (trx) => {
      const updated = await updateUser(trx, { id: user.id, changes: update, now });
      await recordAudit(trx, meta, {
        action: 'auth.profile_update',
        userId: user.id,
        resourceType: 'user',
        resourceId: user.id,
        details: { fields: Object.keys(update).filter((f) => f !== 'email_verified_at') },
      });
      await emitEvent(ctx, trx, { type: 'user.updated', data: toUserResponse(updated) });
      if (newEmail) {
        // A reset link mailed to the old address must not take over the account at the new one.
        await retireResetTokens(trx, user.id, now);
        await queueVerificationEmail(ctx, trx, updated);
      }
      return updated;
    });
    return updated;
  } catch (err) {
    if (isUniqueViolation(err, 'users_email_key')) throw Errors.emailAlreadyRegistered();
    throw err;
  }
}
