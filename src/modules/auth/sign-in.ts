// The sign-in seam: every first factor (a password, an OAuth provider, later a passkey) ends
// here, once it has proven who the user is. This one function decides what that proof yields
// (today a session and a token pair; with MFA, a second-factor challenge) and records the
// sign-in (last login, lockout reset, audit row with the method used), so no sign-in method
// can skip a rule by having its own ending.
import type { AppContext, RequestMeta } from '../../context.js';
import type { UserRow } from '../../db/schema.js';
import { Errors } from '../../lib/errors.js';
import type { AuditAction } from '../audit/audit-actions.js';
import { recordAudit } from '../audit/audit.repo.js';
import { startSession, type TokenPair } from '../sessions/sessions.service.js';
import { updateUser } from '../users/users.repo.js';
import { LOCKOUT_CLEARED } from './lockout.repo.js';
import type { Executor } from '../../db/database.js';

/** Authentication method references (RFC 8176) a first factor can contribute. */
export type AuthMethod = 'pwd' | 'oauth';

export interface FirstFactor {
  method: AuthMethod;
  /** The sign-in's audit row; its details gain `amr`. */
  audit: { action: Extract<AuditAction, 'auth.login' | 'auth.oauth_login'>; details?: Record<string, unknown> };
  /** A stronger hash of the password just checked (argon2 parameters raised, bcrypt imported). */
  rehashedPassword?: string;
}

export type SignInResult = TokenPair;

/** Call inside the sign-in's transaction, so the session, the audit row and the user's
 *  update commit together or not at all. */
export async function completeSignIn(
  ctx: Pick<AppContext, 'clock' | 'tokens' | 'config' | 'metrics'>,
  trx: Executor,
  user: UserRow,
  factor: FirstFactor,
  meta: RequestMeta,
): Promise<SignInResult> {
  if (!user.is_active) throw Errors.inactiveUser();
  const now = ctx.clock.now();
  const amr = [factor.method];
  // One statement: the sign-in is recorded, and the password-guess count starts afresh.
  await updateUser(
    trx,
    user.id,
    { last_login: now, ...LOCKOUT_CLEARED, ...(factor.rehashedPassword ? { password_hash: factor.rehashedPassword } : {}) },
    now,
  );
  await recordAudit(trx, meta, {
    action: factor.audit.action,
    userId: user.id,
    resourceType: 'user',
    resourceId: user.id,
    details: { ...factor.audit.details, amr },
  });
  const session = await startSession(ctx, trx, user, { meta, amr });
  ctx.metrics.signIns.inc(factor.method, 'success');
  return session;
}
