// Every check of a password counts toward the per-account lockout: login, and the checks a
// signed-in user passes to change their email or password. Without this, a stolen access
// token would allow unlimited guesses at the password behind it. A user without a password
// (OAuth only) is told which providers to use instead (rejectPasswordless). With the counter
// (lockout.repo.ts) in modules/lockout, below every module that checks a secret: auth, mfa,
// passwords and account-lifecycle.
import type { AppContext, RequestMeta } from '../../context.js';
import type { UserRow } from '../../db/schema.js';
import { Errors, type AppError } from '../../lib/errors.js';
import type { AuditAction } from '../audit/audit-actions.js';
import { recordAudit } from '../audit/audit.repo.js';
import { linkedProviders } from '../users/users.repo.js';
import { clearFailedGuesses, lockIfExhausted, releaseGuess, reserveGuess } from './lockout.repo.js';
import type { Executor } from '../../db/database.js';
import { inUnitOfWork } from '../../db/unit-of-work.js';

/** Why a signed-in user's password was checked, as recorded in the audit log. */
export type PasswordCheckPurpose = 'email_change' | 'password_change' | 'account_deletion';

/**
 * Checks a signed-in user's current password with a guess reserved first, like a login.
 * A locked account, or a wrong password, answers 401 `Current password is incorrect` after
 * the same argon2 work. A right one clears the failure count.
 */
export async function verifyCurrentPassword(
  ctx: AppContext,
  meta: RequestMeta,
  check: { user: UserRow; password: string; purpose: PasswordCheckPurpose },
): Promise<void> {
  const { user, password, purpose } = check;
  await withCountedGuess(
    ctx,
    { user, meta, guess: { failedAction: 'auth.password_check_failed', purpose, wrongReason: 'bad_password', refusal: Errors.currentPasswordIncorrect } },
    // The hash is checked even when no guess is left (against none), so a locked account costs the same.
    async (mayTry) => ((await ctx.passwords.verify(mayTry ? user.password_hash : null, password)).valid ? true : null),
  );
}

export interface CountedGuess {
  failedAction: Extract<AuditAction, 'auth.password_check_failed' | 'auth.mfa_failed'>;
  purpose: string;
  /** The audit reason of a wrong guess (a locked account is `account_locked`). */
  wrongReason: string;
  refusal: () => AppError;
  /** Count guesses for users without a password too (MFA codes). Default true. */
  passwordRequired?: boolean;
}

/**
 * The one way a signed-in user's secret (a password, an MFA code) is checked against the
 * per-account lockout: a guess is reserved first; `check` (told whether a guess was left)
 * returns null for a wrong secret, which is audited, counts, may lock the account, and throws
 * `refusal`; a right one clears the failure count.
 */
export async function withCountedGuess<T>(
  ctx: AppContext,
  counted: { user: UserRow; meta: RequestMeta; guess: CountedGuess },
  check: (mayTry: boolean) => Promise<T | null>,
): Promise<T> {
  const { user, meta, guess } = counted;
  const now = ctx.clock.now();
  const mayTry = await reserveGuess(ctx.db, { userId: user.id, now, passwordRequired: guess.passwordRequired ?? true });
  let result: T | null;
  try {
    result = await check(mayTry);
  } catch (err) {
    // Neither right nor wrong (the change it guards was refused, the database failed): the
    // guess goes back, or a run of such errors would exhaust the count with no lock end.
    if (mayTry) await releaseGuess(ctx.db, user.id);
    throw err;
  }
  if (result === null) {
    await inUnitOfWork(ctx, async (trx) => {
      await recordAudit(trx, meta, {
        action: guess.failedAction,
        userId: user.id,
        resourceType: 'user',
        resourceId: user.id,
        details: { purpose: guess.purpose, reason: mayTry ? guess.wrongReason : 'account_locked' },
      });
      if (mayTry) await lockAfterLastGuess(trx, { userId: user.id, now, meta });
    });
    throw guess.refusal();
  }
  await clearFailedGuesses(ctx.db, user.id);
  return result;
}

export interface LockAfterLastGuess {
  userId: string;
  now: Date;
  meta: RequestMeta;
}

/** After a counted wrong guess: locks the account once its guesses are used up, audited. */
export async function lockAfterLastGuess(trx: Executor, { userId, now, meta }: LockAfterLastGuess): Promise<void> {
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

/** A user who signs in only through OAuth is told which providers to use. */
export async function rejectPasswordless(ctx: Pick<AppContext, 'db'>, user: UserRow): Promise<void> {
  if (user.password_hash !== null) return;
  throw Errors.useOAuthProvider(await linkedProviders(ctx.db, user.id));
}
