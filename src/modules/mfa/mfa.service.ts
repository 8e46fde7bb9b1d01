// TOTP enrolment of a signed-in user: setup (a pending secret), enable (with the first code;
// recovery codes issued), disable, new recovery codes. users.mfa_enabled changes only here,
// with its webhook event, and where every factor goes at once (auth/factors.ts): the admin's
// reset (admin/mfa-reset.ts) and an OAuth account reclaim (oauth/sign-in.ts).
import type { AppContext, RequestMeta } from '../../context.js';
import type { Executor } from '../../db/database.js';
import type { UserRow } from '../../db/schema.js';
import { Errors } from '../../lib/errors.js';
import { recordAudit } from '../audit/audit.repo.js';
import { emitEvent } from '../events/emit-event.js';
import { emitSessionsRevoked } from '../events/session-events.js';
import { revokeUserSessions } from '../sessions/device-sessions.repo.js';
import { toUserResponse } from '../users/user.schemas.js';
import { updateUser } from '../users/users.repo.js';
import { hashRecoveryCode, newRecoveryCodes, spendEitherCode, totpPurpose, withCountedCode } from './mfa-codes.js';
import { claimTotpStep, deleteUserMfa, findUserMfa, replaceRecoveryCodes, savePendingTotp } from './mfa.repo.js';
import { matchTotpStep, newTotpSecret, otpauthUrl } from './totp.js';
import { inUnitOfWork } from '../../db/unit-of-work.js';

export async function setupTotp(ctx: AppContext, user: UserRow, meta: RequestMeta): Promise<{ secret: string; otpauth_url: string }> {
  if (user.mfa_enabled) throw Errors.mfaAlreadyEnabled();
  const secret = newTotpSecret();
  const now = ctx.clock.now();
  await inUnitOfWork(ctx, async (trx) => {
    const sealedSecret = ctx.secrets.seal(secret, totpPurpose(user.id));
    if (!(await savePendingTotp(trx, { userId: user.id, sealedSecret, now }))) throw Errors.mfaAlreadyEnabled();
    await recordAudit(trx, meta, { action: 'auth.mfa_totp_setup', userId: user.id, resourceType: 'user', resourceId: user.id });
  });
  return { secret, otpauth_url: otpauthUrl(secret, ctx.config.webauthn.rpName, user.email) };
}

async function issueRecoveryCodes(trx: Executor, userId: string): Promise<string[]> {
  const codes = newRecoveryCodes();
  await replaceRecoveryCodes(trx, userId, codes.map((code) => hashRecoveryCode(userId, code)));
  return codes;
}

/** A signed-in user's change to their MFA, with the code that proves it. */
export interface MfaChange {
  user: UserRow;
  code: string;
  meta: RequestMeta;
}

export interface EnableTotp extends MfaChange {
  /** The enabling session: it stays. */
  session: { sessionId: string };
}

/**
 * Enables TOTP with its first code. The user's other aal1 sessions end in the same transaction:
 * one made with the password alone before enrolment (perhaps by whoever learnt it) must not
 * outlive it. The enabling session stays, at aal1: adding a factor from it takes a code.
 */
export async function enableTotp(ctx: AppContext, { user, code, session, meta }: EnableTotp): Promise<{ recovery_codes: string[] }> {
  if (user.mfa_enabled) throw Errors.mfaAlreadyEnabled();
  const pending = await findUserMfa(ctx.db, user.id);
  if (!pending) throw Errors.mfaSetupNotStarted();
  if (pending.enabled) throw Errors.mfaAlreadyEnabled();
  const codes = await withCountedCode(ctx, { user, purpose: 'enable', meta }, async (trx) => {
    const now = ctx.clock.now();
    const step = matchTotpStep(ctx.secrets.open(pending.sealedSecret, totpPurpose(user.id)), code.trim(), now);
    // Enables only the secret that was checked, and only once (a concurrent enable loses).
    if (step === null || !(await claimTotpStep(trx, user.id, { step, now, enabling: pending.sealedSecret }))) return null;
    const recoveryCodes = await issueRecoveryCodes(trx, user.id);
    const updated = await updateUser(trx, { id: user.id, changes: { mfa_enabled: true }, now });
    const ended = await revokeUserSessions(trx, user.id, { scope: { except: session.sessionId }, now, onlyAal: 'aal1' });
    await emitSessionsRevoked(ctx, trx, { sessions: ended, reason: 'mfa_enabled' });
    await recordAudit(trx, meta, {
      action: 'auth.mfa_enabled',
      userId: user.id,
      resourceType: 'user',
      resourceId: user.id,
      details: { method: 'totp', aal1_sessions_ended: ended.length },
    });
    await emitEvent(ctx, trx, { type: 'user.mfa_enabled', data: toUserResponse(updated) });
    return recoveryCodes;
  });
  return { recovery_codes: codes };
}

export async function disableTotp(ctx: AppContext, { user, code, meta }: MfaChange): Promise<void> {
  if (!user.mfa_enabled) throw Errors.mfaNotEnabled();
  await withCountedCode(ctx, { user, purpose: 'disable', meta }, async (trx) => {
    const method = await spendEitherCode(ctx, trx, { userId: user.id, code });
    if (!method) return null;
    const now = ctx.clock.now();
    await deleteUserMfa(trx, user.id);
    const updated = await updateUser(trx, { id: user.id, changes: { mfa_enabled: false }, now });
    await recordAudit(trx, meta, { action: 'auth.mfa_disabled', userId: user.id, resourceType: 'user', resourceId: user.id, details: { code: method } });
    await emitEvent(ctx, trx, { type: 'user.mfa_disabled', data: toUserResponse(updated) });
    return true;
  });
}

export async function regenerateRecoveryCodes(ctx: AppContext, { user, code, meta }: MfaChange): Promise<{ recovery_codes: string[] }> {
  if (!user.mfa_enabled) throw Errors.mfaNotEnabled();
  const codes = await withCountedCode(ctx, { user, purpose: 'recovery_codes', meta }, async (trx) => {
    const method = await spendEitherCode(ctx, trx, { userId: user.id, code });
    if (!method) return null;
    const recoveryCodes = await issueRecoveryCodes(trx, user.id);
    await recordAudit(trx, meta, { action: 'auth.mfa_recovery_codes_regenerated', userId: user.id, resourceType: 'user', resourceId: user.id, details: { code: method } });
    return recoveryCodes;
  });
  return { recovery_codes: codes };
}
