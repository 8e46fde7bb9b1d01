// The sign-in seam: every first factor (a password, an OAuth provider, a passkey) ends here,
// once it has proven who the user is. This one function decides what that proof yields: a
// session and a token pair, or, for an MFA-enrolled user, a second-factor challenge (the
// `mfa_token`), redeemed by completeSecondFactor after POST /auth/mfa/verify. It records the
// sign-in (last login, lockout reset, audit row with the methods used), so no sign-in method
// can skip a rule by having its own ending.
import { randomUUID } from 'node:crypto';
import type { AppContext, RequestMeta } from '../../context.js';
import type { UserRow } from '../../db/schema.js';
import { addSeconds } from '../../lib/clock.js';
import { Errors } from '../../lib/errors.js';
import { hashSecret, randomToken } from '../../lib/random.js';
import type { AuditAction } from '../audit/audit-actions.js';
import { auditWrite, recordAudit } from '../audit/audit.repo.js';
import { insertMfaChallenge } from '../mfa/mfa.repo.js';
import { countPasskeys } from '../passkeys/passkeys.repo.js';
import { newSession, type TokenPair } from '../sessions/sessions.service.js';
import { refuseWhereSsoIsEnforced, type EnforcedSso } from '../sso-policy/enforcement.js';
import { updateUser } from '../users/users.repo.js';
import { recordSignInWrite } from '../lockout/lockout.repo.js';
import { writeTogether } from '../../db/together.js';
import type { Executor } from '../../db/database.js';

/** Authentication method references (RFC 8176) a first factor can contribute. */
export type AuthMethod = 'pwd' | 'oauth' | 'passkey' | 'sso';
/** What a second factor adds to `amr`. */
export type SecondFactorMethod = 'otp' | 'recovery_code' | 'passkey';
export type SignInAuditAction = Extract<AuditAction, 'auth.login' | 'auth.oauth_login' | 'auth.passkey_login' | 'sso.sign_in'>;

export interface FirstFactor {
  method: AuthMethod;
  /** The sign-in's audit row; its details gain `amr`. */
  audit: { action: SignInAuditAction; details?: Record<string, unknown> };
  /** A stronger hash of the password just checked (argon2 parameters raised, bcrypt imported). */
  rehashedPassword?: string;
  /** The factor proved two things at once (a passkey whose authenticator verified the user; an
   *  enterprise identity provider that asserted multi-factor): aal2. */
  multiFactor?: boolean;
  /** Whether the user's email domain must sign in through SSO, where the factor read it itself
   *  just before (the password login, outside its transaction: login.service.ts); null where it
   *  need not. Left out, the seam asks. */
  ssoEnforcement?: EnforcedSso | null;
}

/** What an MFA-enrolled user gets instead of tokens: the second factor redeems the token. */
export interface MfaChallenge {
  mfa_required: true;
  mfa_token: string;
  methods: Array<'totp' | 'recovery_code' | 'passkey'>;
}

export type SignInResult = TokenPair | MfaChallenge;

export const isMfaChallenge = (result: SignInResult): result is MfaChallenge => 'mfa_required' in result;

/** How long an mfa_token may be redeemed. */
export const MFA_TOKEN_TTL_SECONDS = 5 * 60;

type SignInDeps = Pick<AppContext, 'clock' | 'tokens' | 'config' | 'metrics'>;

/** A user whose first factor has just proven who they are. */
export interface CompleteSignIn {
  user: UserRow;
  factor: FirstFactor;
  meta: RequestMeta;
}

/** Call inside the sign-in's transaction, so the session (or challenge), the audit row and the
 *  user's update commit together or not at all. */
export async function completeSignIn(ctx: SignInDeps, trx: Executor, { user, factor, meta }: CompleteSignIn): Promise<SignInResult> {
  if (!user.is_active) throw Errors.inactiveUser();
  // Where the user's email domain belongs to an account that enforces SSO, only SSO signs in.
  if (factor.method !== 'sso') await refuseWhereSsoIsEnforced(trx, user.email, factor.ssoEnforcement);
  // Enterprise SSO: the customer's identity provider owns the second factor, so Keyhold's own
  // is not asked (aal2 only when the provider asserted one).
  if (user.mfa_enabled && !factor.multiFactor && factor.method !== 'sso') return challengeSecondFactor(ctx, trx, { user, factor, meta });
  return finishSignIn(ctx, trx, {
    user,
    meta,
    amr: [factor.method],
    aal: factor.multiFactor ? 'aal2' : 'aal1',
    audit: factor.audit,
    rehashedPassword: factor.rehashedPassword,
    metric: factor.method,
  });
}

/**
 * The second factor passed (checked, and the challenge spent, by the caller in this
 * transaction): the sign-in the challenge stood for completes, at aal2.
 */
export async function completeSecondFactor(
  ctx: SignInDeps,
  trx: Executor,
  passed: {
    user: UserRow;
    challenge: { first_factor: string; audit_action: string; audit_details: Record<string, unknown> };
    second: SecondFactorMethod;
    meta: RequestMeta;
  },
): Promise<TokenPair> {
  const { user, challenge, second, meta } = passed;
  if (!user.is_active) throw Errors.inactiveUser();
  // Asked again, not taken from the first step: enforcement turned on while the challenge was
  // waiting (up to MFA_TOKEN_TTL_SECONDS) stops the sign-in too. (An SSO sign-in makes no challenge.)
  await refuseWhereSsoIsEnforced(trx, user.email);
  return finishSignIn(ctx, trx, {
    user,
    meta,
    amr: [challenge.first_factor, second],
    aal: 'aal2',
    audit: { action: challenge.audit_action as SignInAuditAction, details: challenge.audit_details },
    metric: 'mfa',
  });
}

async function finishSignIn(
  ctx: SignInDeps,
  trx: Executor,
  signIn: {
    user: UserRow;
    meta: RequestMeta;
    amr: string[];
    aal: 'aal1' | 'aal2';
    audit: FirstFactor['audit'];
    rehashedPassword?: string;
    metric: AuthMethod | 'mfa';
  },
): Promise<TokenPair> {
  const now = ctx.clock.now();
  const { user, meta, amr, aal } = signIn;
  const session = await newSession(ctx, trx, { user, assurance: { aal, amr }, meta });
  // Every write of a sign-in in one prepared statement (db/together.ts): the sign-in recorded,
  // with the guess count starting afresh (for an enrolled user only here, once the second factor
  // has passed: a right password alone does not reset it); its audit row; the session, its
  // first refresh token and its session.created event with the event's webhook deliveries.
  // The sign-in's last statement: a password login's transaction has no other, so it is sent
  // without BEGIN and COMMIT (db/after-commit.ts).
  await writeTogether(trx, [
    recordSignInWrite({ userId: user.id, now, rehashedPassword: signIn.rehashedPassword }),
    auditWrite(meta, { action: signIn.audit.action, userId: user.id, resourceType: 'user', resourceId: user.id, details: { ...signIn.audit.details, amr, aal } }),
    ...session.writes,
  ], { preparedAs: 'sign_in_writes', endsItsChange: true });
  ctx.metrics.signIns.inc(signIn.metric, 'success');
  return session.tokens;
}

/** The first factor passed for an enrolled user: no tokens, an mfa_token for the second. */
async function challengeSecondFactor(
  ctx: SignInDeps,
  trx: Executor,
  first: { user: UserRow; factor: FirstFactor; meta: RequestMeta },
): Promise<MfaChallenge> {
  const { user, factor, meta } = first;
  const now = ctx.clock.now();
  // The stronger hash is kept now: the password was right whatever the second factor does.
  if (factor.rehashedPassword) await updateUser(trx, { id: user.id, changes: { password_hash: factor.rehashedPassword }, now });
  const token = randomToken(32);
  const id = randomUUID();
  await insertMfaChallenge(trx, {
    id,
    tokenHash: hashSecret(token),
    userId: user.id,
    firstFactor: factor.method,
    auditAction: factor.audit.action,
    auditDetails: factor.audit.details ?? {},
    expiresAt: addSeconds(now, MFA_TOKEN_TTL_SECONDS),
    now,
  });
  await recordAudit(trx, meta, {
    action: 'auth.mfa_challenge',
    userId: user.id,
    resourceType: 'user',
    resourceId: user.id,
    details: { first_factor: factor.method },
  });
  ctx.metrics.signIns.inc(factor.method, 'mfa_required');
  // A passkey already used as the first factor cannot also be the second.
  const passkey = factor.method !== 'passkey' && (await countPasskeys(trx, user.id)) > 0;
  return { mfa_required: true, mfa_token: token, methods: ['totp', 'recovery_code', ...(passkey ? (['passkey'] as const) : [])] };
}
