// Checking a second-factor code (TOTP or recovery code), and counting every check toward the
// per-account lockout, as a password check is.
import type { AppContext, RequestMeta } from '../../context.js';
import type { Executor } from '../../db/database.js';
import type { UserRow } from '../../db/schema.js';
import { Errors } from '../../lib/errors.js';
import { hashSecret, randomCode } from '../../lib/random.js';
import { withCountedGuess } from '../lockout/password-check.js';
import { claimTotpStep, findUserMfa, useRecoveryCode } from './mfa.repo.js';
import { matchTotpStep } from './totp.js';
import { inUnitOfWork } from '../../db/unit-of-work.js';

export const RECOVERY_CODE_COUNT = 10;

export const totpPurpose = (userId: string): string => `totp:${userId}`;

/** `XXXX-XXXX-XXXX` over [A-Z0-9]: 62 bits, typed from paper. */
export function newRecoveryCodes(): string[] {
  return Array.from({ length: RECOVERY_CODE_COUNT }, () => randomCode(12).replace(/(.{4})(?=.)/g, '$1-'));
}

/** Hashed with the user's id, so equal codes of two users never share a hash. Case, spaces and dashes do not matter. */
export const hashRecoveryCode = (userId: string, code: string): string =>
  hashSecret(`${userId}:${code.toUpperCase().replace(/[^A-Z0-9]/g, '')}`);

export const looksLikeTotp = (code: string): boolean => /^\d{6}$/.test(code.trim());

/** A user's code, as given, to check and spend. */
export interface SpendCode {
  userId: string;
  code: string;
}

/** A TOTP code of the user's enabled secret, spent (its time step can never pass again). */
export async function spendTotpCode(ctx: Pick<AppContext, 'secrets' | 'clock'>, trx: Executor, { userId, code }: SpendCode): Promise<boolean> {
  const mfa = await findUserMfa(trx, userId);
  if (!mfa?.enabled) return false;
  const now = ctx.clock.now();
  const step = matchTotpStep(ctx.secrets.open(mfa.sealedSecret, totpPurpose(userId)), code.trim(), now);
  return step !== null && claimTotpStep(trx, userId, { step, now });
}

export async function spendRecoveryCode(ctx: Pick<AppContext, 'clock'>, trx: Executor, { userId, code }: SpendCode): Promise<boolean> {
  if (code.length > 64) return false;
  return useRecoveryCode(trx, { userId, codeHash: hashRecoveryCode(userId, code), now: ctx.clock.now() });
}

/** `code` is either: six digits are a TOTP code, anything else a recovery code. */
export async function spendEitherCode(
  ctx: Pick<AppContext, 'secrets' | 'clock'>,
  trx: Executor,
  { userId, code }: SpendCode,
): Promise<'otp' | 'recovery_code' | null> {
  if (looksLikeTotp(code)) return (await spendTotpCode(ctx, trx, { userId, code })) ? 'otp' : null;
  return (await spendRecoveryCode(ctx, trx, { userId, code })) ? 'recovery_code' : null;
}

/** Why a signed-in user's code was checked, as recorded in the audit log. */
export type CodeCheckPurpose = 'enable' | 'disable' | 'recovery_codes' | string;

/**
 * Runs `attempt` (the code check and the change it guards, in one transaction) with a guess
 * of the account reserved first. `attempt` returns null for a wrong code, which changes
 * nothing; that failure is audited, counts, and may lock the account: 400 `Invalid MFA code`.
 * A right code clears the count, as a right password does.
 */
export async function withCountedCode<T>(
  ctx: AppContext,
  counted: { user: UserRow; purpose: CodeCheckPurpose; meta: RequestMeta },
  attempt: (trx: Executor) => Promise<T | null>,
): Promise<T> {
  const { user, purpose, meta } = counted;
  return withCountedGuess(
    ctx,
    { user, meta, guess: { failedAction: 'auth.mfa_failed', purpose, wrongReason: 'bad_code', refusal: Errors.invalidMfaCode, passwordRequired: false } },
    async (mayTry) => (mayTry ? inUnitOfWork(ctx, attempt) : null),
  );
}

/**
 * For a sensitive action of a signed-in, MFA-enrolled user (e.g. DELETE /auth/me): checks a
 * TOTP or recovery code, spending it, counted toward the lockout. Throws 400 `Invalid MFA code`
 * for a wrong one and 400 `MFA is not enabled` for a user without MFA (check
 * `user.mfa_enabled` first). Runs its own transactions: the failure count must commit even
 * when the action does not.
 */
export async function verifyMfaCodeForAction(
  ctx: AppContext,
  meta: RequestMeta,
  check: { user: UserRow; code: string; purpose?: string },
): Promise<'otp' | 'recovery_code'> {
  const { user, code, purpose = 'sensitive_action' } = check;
  if (!user.mfa_enabled) throw Errors.mfaNotEnabled();
  return withCountedCode(ctx, { user, purpose, meta }, (trx) => spendEitherCode(ctx, trx, { userId: user.id, code }));
}
