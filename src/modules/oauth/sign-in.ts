// Turning a verified provider identity into a Keyhold session: sign in a linked user, link an
// existing user by a verified email, or register a new one. One transaction per attempt.
import type { AppContext, RequestMeta } from '../../context.js';
import type { UserRow } from '../../db/schema.js';
import { isUniqueViolation } from '../../db/errors.js';
import { Errors, isCatalogued } from '../../lib/errors.js';
import { recordAudit } from '../audit/audit.repo.js';
import { queueVerificationEmail } from '../auth/email-verification.js';
import { claimInvites } from '../auth/registration.service.js';
import { completeSignIn, type SignInResult } from '../auth/sign-in.js';
import { revokeAllSessions } from '../sessions/sessions.repo.js';
import { emitEvent } from '../events/emit-event.js';
import { emitSessionsRevoked } from '../events/session-events.js';
import { toUserResponse } from '../users/user.schemas.js';
import { createUser } from '../accounts/create-user.js';
import { findUserByEmail, updateUser } from '../users/users.repo.js';
import type { ProviderIdentity } from './code-exchange.js';
import { deleteIdentitiesOfUser, findUserByIdentity, insertOAuthIdentity } from './oauth.repo.js';
import { removeEveryFactor, type RemovedFactors } from '../auth/factors.js';
import type { Executor } from '../../db/database.js';
import { inUnitOfWork } from '../../db/unit-of-work.js';

export interface SignUpInvites {
  invite_code?: string | null;
  account_invite_code?: string | null;
}

/** What a reclaim took from the account (its audit row lists it). */
type Reclaimed = RemovedFactors & { password: boolean; sessions: number; identities: string[] };

type Outcome = { kind: 'login' } | { kind: 'register' } | { kind: 'link'; reclaimed: Reclaimed | null };

/** A provider's verified identity, the invites the sign-up presented, and the request's meta. */
export interface IdentitySignIn {
  identity: ProviderIdentity;
  invites: SignUpInvites;
  meta: RequestMeta;
}

export async function signInWithIdentity(ctx: AppContext, { identity, invites, meta }: IdentitySignIn): Promise<SignInResult> {
  const attempt = () => inUnitOfWork(ctx, (trx) => signIn(ctx, trx, { identity, invites, meta }));
  let result: { tokens: SignInResult; queuedEmail: boolean };
  try {
    result = await attempt();
  } catch (err) {
    // Two callbacks for one new identity (or one email) raced and the other committed first:
    // at the insert (a unique violation), or between this attempt's look-up of the email and
    // createUser's own (Email already registered). Running again finds what it wrote and signs
    // in to that user instead of failing.
    if (!isUniqueViolation(err) && !isCatalogued(err, Errors.emailAlreadyRegistered)) throw err;
    result = await attempt();
  }
  return result.tokens;
}

async function signIn(
  ctx: AppContext,
  trx: Executor,
  { identity, invites, meta }: IdentitySignIn,
): Promise<{ tokens: SignInResult; queuedEmail: boolean }> {
  const now = ctx.clock.now();
  let outcome: Outcome = { kind: 'login' };
  let queuedEmail = false;
  let user = await findUserByIdentity(trx, identity.provider, identity.subject);
  if (!user) {
    if (identity.email === null) throw Errors.oauthNoEmail();
    const existing = await findUserByEmail(trx, identity.email);
    if (existing) {
      // Only the provider's word that this person controls the address justifies handing them
      // an existing account.
      if (!identity.emailVerified) throw Errors.accountExistsUnverifiedEmail();
      if (!existing.is_active) throw Errors.inactiveUser();
      const reclaim = existing.email_verified_at === null ? await reclaimUnverifiedUser(ctx, trx, { user: existing, now }) : null;
      user = reclaim?.user ?? existing;
      outcome = { kind: 'link', reclaimed: reclaim?.removed ?? null };
    } else {
      ({ user, queuedEmail } = await registerUser(ctx, trx, { identity, invites, meta }));
      outcome = { kind: 'register' };
    }
    await insertOAuthIdentity(trx, { userId: user.id, provider: identity.provider, subject: identity.subject, email: identity.email, now });
  }
  await recordLink(trx, { meta, user, identity, outcome });
  const tokens = await completeSignIn(ctx, trx, { user, factor: { method: 'oauth', audit: { action: 'auth.oauth_login', details: { provider: identity.provider } } }, meta });
  return { tokens, queuedEmail };
}

/**
 * Linking to a user who never proved their address: whoever registered it may not own it (an
 * account squatted before its owner arrived). Everything they could have planted to get back
 * in goes, in this transaction: the password, every session, TOTP and its recovery codes,
 * passkeys, pending MFA and passkey challenges, and identities of other providers (a sign-in
 * with any of them would be theirs). The provider's verification stands in for theirs.
 */
async function reclaimUnverifiedUser(
  ctx: AppContext,
  trx: Executor,
  { user, now }: { user: UserRow; now: Date },
): Promise<{ user: UserRow; removed: Reclaimed }> {
  const sessions = await revokeAllSessions(trx, user.id, now);
  await emitSessionsRevoked(ctx, trx, { sessions, reason: 'account_reclaimed' });
  const factors = await removeEveryFactor(trx, user.id, now);
  const identities = await deleteIdentitiesOfUser(trx, user.id);
  const updated = await updateUser(trx, { id: user.id, changes: { password_hash: null, must_change_password: false, email_verified_at: now, mfa_enabled: false }, now });
  await emitEvent(ctx, trx, { type: 'user.email_verified', data: toUserResponse(updated) });
  if (user.mfa_enabled) await emitEvent(ctx, trx, { type: 'user.mfa_disabled', data: toUserResponse(updated) });
  return { user: updated, removed: { password: user.password_hash !== null, sessions: sessions.length, ...factors, identities } };
}

/** A new user with no password, under the same invite rules as POST /auth/register. */
async function registerUser(
  ctx: AppContext,
  trx: Executor,
  { identity, invites, meta }: IdentitySignIn,
): Promise<{ user: UserRow; queuedEmail: boolean }> {
  const email = identity.email!;
  const now = ctx.clock.now();
  const claimed = await claimInvites(ctx, trx, { input: { email, invite_code: invites.invite_code, account_invite_code: invites.account_invite_code }, now });
  const user = await createUser(ctx, trx, {
    input: {
      email,
      name: identity.name ?? email.split('@')[0]!,
      passwordHash: null,
      emailVerifiedAt: identity.emailVerified ? now : null,
      ...claimed,
      audit: { action: 'auth.oauth_register', details: { provider: identity.provider, email_verified: identity.emailVerified } },
    },
    meta,
  });
  // An address nobody vouched for gets a verification email, as a password registration does.
  const queuedEmail = identity.emailVerified ? false : await queueVerificationEmail(ctx, trx, user);
  return { user, queuedEmail };
}

/** Linking an identity to an existing user is recorded as such; a registration already was. */
async function recordLink(
  trx: Executor,
  { meta, user, identity, outcome }: { meta: RequestMeta; user: UserRow; identity: ProviderIdentity; outcome: Outcome },
): Promise<void> {
  if (outcome.kind !== 'link') return;
  await recordAudit(trx, meta, {
    action: 'auth.oauth_link',
    userId: user.id,
    resourceType: 'user',
    resourceId: user.id,
    details: {
      provider: identity.provider,
      reclaimed_unverified_account: outcome.reclaimed !== null,
      ...(outcome.reclaimed ? { removed: outcome.reclaimed } : {}),
    },
  });
}
