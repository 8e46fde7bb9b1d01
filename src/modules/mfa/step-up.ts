// Adding or removing a factor of an MFA-enrolled user needs proof at the level the factors
// protect (NIST 800-63B 6.1.2.1): the session the request comes from passed a second factor
// (aal2), or the request carries a fresh TOTP or recovery code, spent and counted toward the
// lockout like every code. Otherwise a password-only session, perhaps one made before the user
// enrolled, could register a passkey and sign in with it at aal2, skipping TOTP.
//
// TOTP disable and new recovery codes always take a code (their bodies require one). A user
// without MFA has no second factor to protect: the signed-in session is enough, as in 0.2.
import type { AppContext, RequestMeta } from '../../context.js';
import type { UserRow } from '../../db/schema.js';
import { Errors } from '../../lib/errors.js';
import { findSessionAal } from '../sessions/sessions.repo.js';
import { spendEitherCode, withCountedCode } from './mfa-codes.js';

/** Who asks: the session of the request (bearer token or hosted page) and the code it sent, if any. */
export interface FactorChangeRequest {
  sessionId: string;
  code?: string | null;
}

/** How a factor change was allowed. */
export type FactorChangeProof = 'not_enrolled' | 'aal2_session' | 'otp' | 'recovery_code';

/** Whether the request's session alone allows a factor change (no code needed). */
export async function sessionAllowsFactorChange(ctx: Pick<AppContext, 'db'>, user: UserRow, sessionId: string): Promise<boolean> {
  if (!user.mfa_enabled) return true;
  return (await findSessionAal(ctx.db, user.id, sessionId)) === 'aal2';
}

/**
 * The proof a factor change needs, or throws: 403 `A second factor is required for this change`
 * without a code, 400 `Invalid MFA code` for a wrong one (counted). A code is spent only when
 * the session alone does not suffice.
 */
export async function proveFactorChange(
  ctx: AppContext,
  meta: RequestMeta,
  change: { user: UserRow; request: FactorChangeRequest; purpose: string },
): Promise<FactorChangeProof> {
  const { user, request, purpose } = change;
  if (!user.mfa_enabled) return 'not_enrolled';
  if (await sessionAllowsFactorChange(ctx, user, request.sessionId)) return 'aal2_session';
  if (!request.code) throw Errors.secondFactorRequired();
  const code = request.code;
  return withCountedCode(ctx, { user, purpose, meta }, (trx) => spendEitherCode(ctx, trx, { userId: user.id, code }));
}
