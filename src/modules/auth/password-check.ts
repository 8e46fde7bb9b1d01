// Every check of a password counts toward the per-account lockout: login, and the checks a
// signed-in user passes to change their email or password. Without this, a stolen access
// token would allow unlimited guesses at the password behind it.
import type { AppContext, RequestMeta } from '../../context.js';
import type { UserRow } from '../../db/schema.js';
import { Errors } from '../../lib/errors.js';
import { recordAudit } from '../audit/audit.repo.js';
import { clearFailedGuesses, lockIfExhausted, reserveGuess } from './lockout.repo.js';
import type { Executor } from '../../db/database.js';

/** Why a signed-in user's password was checked, as recorded in the audit log. */
export type PasswordCheckPurpose = 'email_change' | 'password_change' | 'account_deletion';

/**
 * Checks a signed-in user's current password with a guess reserved first, like a login.
 * A locked account, or a wrong password, answers 401 `Current password is incorrect` after
 * the same argon2 work. A right one clears the failure count.
 */
export async function verifyCurrentPassword(
  ctx: AppContext,
  user: UserRow,
  password: string,
  purpose: PasswordCheckPurpose,
  meta: RequestMeta,
): Promise<void> {
  const now = ctx.clock.now();
  const mayTry = await reserveGuess(ctx.db, user.id, now);
  const { valid } = await ctx.passwords.verify(mayTry ? user.password_hash : null, password);
  if (!valid) {
    await ctx.db.transaction().execute(async (trx) => {
      await recordAudit(trx, meta, {
        action: 'auth.password_check_failed',
        userId: user.id,
        resourceType: 'user',
        resourceId: user.id,
        details: { purpose, reason: mayTry ? 'bad_password' : 'account_locked' },
      });
      if (mayTry) await lockAfterLastGuess(trx, meta, user.id, now);
    });
    throw Errors.currentPasswordIncorrect();
  }
  await clearFailedGuesses(ctx.db, user.id);
}

/** After a counted wrong guess: locks the account once its guesses are used up, audited. */
export async function lockAfterLastGuess(trx: Executor, meta: RequestMeta, userId: string, now: Date): Promise<void> {
  const lockedUntil = await lockIfExhausted(trx, userId, now);
  if (!lockedUntil) return;
  await recordAudit(trx, meta, {
    action: 'auth.account_locked',
    userId,
    resourceType: 'user',
    resourceId: userId,
    details: { locked_until: lockedUntil.toISOString() },
  });
}
