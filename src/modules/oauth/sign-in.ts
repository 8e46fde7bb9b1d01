// Turning a verified provider identity into a Keyhold session: sign in a linked user, link an
// existing user by a verified email, or register a new one. One transaction per attempt.
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { AppContext, RequestMeta } from '../../context.js';
import type { Database, UserRow } from '../../db/schema.js';
import { isUniqueViolation } from '../../db/errors.js';
import { badRequest, conflict, inactiveUser } from '../../lib/errors.js';
import { createPersonalAccount } from '../accounts/personal-account.js';
import { recordAudit } from '../audit/audit.repo.js';
import { queueVerificationEmail } from '../auth/email-verification.js';
import { claimInvites } from '../auth/registration.service.js';
import { markAccountInviteAccepted } from '../invites/account-invites.repo.js';
import { markInviteCodeUsed } from '../invites/invite-codes.repo.js';
import { revokeAllSessions } from '../sessions/sessions.repo.js';
import { startSession, type TokenPair } from '../sessions/sessions.service.js';
import { findUserByEmail, insertUser, updateUser } from '../users/users.repo.js';
import type { ProviderIdentity } from './code-exchange.js';
import { findUserByIdentity, insertOAuthIdentity } from './oauth.repo.js';

export interface SignUpInvites {
  invite_code?: string | null;
  account_invite_code?: string | null;
}

type Outcome = { kind: 'login' } | { kind: 'register' } | { kind: 'link'; reclaimed: boolean };

export async function signInWithIdentity(
  ctx: AppContext,
  identity: ProviderIdentity,
  invites: SignUpInvites,
  meta: RequestMeta,
): Promise<TokenPair> {
  const attempt = () => ctx.db.transaction().execute((trx) => signIn(ctx, trx, identity, invites, meta));
  let result: { tokens: TokenPair; queuedEmail: boolean };
  try {
    result = await attempt();
  } catch (err) {
    // Two callbacks for one new identity (or one email) raced and the other committed first.
    // Running again finds what it wrote and signs in to that user instead of failing.
    if (!isUniqueViolation(err)) throw err;
    result = await attempt();
  }
  if (result.queuedEmail) ctx.outbox.notify();
  return result.tokens;
}

async function signIn(
  ctx: AppContext,
  trx: Kysely<Database>,
  identity: ProviderIdentity,
  invites: SignUpInvites,
  meta: RequestMeta,
): Promise<{ tokens: TokenPair; queuedEmail: boolean }> {
  const now = ctx.clock.now();
  let outcome: Outcome = { kind: 'login' };
  let queuedEmail = false;
  let user = await findUserByIdentity(trx, identity.provider, identity.subject);
  if (!user) {
    if (identity.email === null) throw badRequest('OAuth provider did not share an email address');
    const existing = await findUserByEmail(trx, identity.email);
    if (existing) {
      // Only the provider's word that this person controls the address justifies handing them
      // an existing account.
      if (!identity.emailVerified) throw conflict({ error: 'account_exists_unverified_email' });
      if (!existing.is_active) throw inactiveUser();
      const reclaimed = existing.email_verified_at === null;
      user = reclaimed ? await reclaimUnverifiedUser(trx, existing, now) : existing;
      outcome = { kind: 'link', reclaimed };
    } else {
      ({ user, queuedEmail } = await registerUser(ctx, trx, identity, invites, now));
      outcome = { kind: 'register' };
    }
    await insertOAuthIdentity(trx, { userId: user.id, provider: identity.provider, subject: identity.subject, email: identity.email, now });
  }
  if (!user.is_active) throw inactiveUser();

  user = await updateUser(trx, user.id, { last_login: now }, now);
  await recordOutcome(trx, meta, user, identity, outcome);
  return { tokens: await startSession(ctx, trx, user), queuedEmail };
}

/**
 * Linking to a user who never proved their address: whoever registered it may not own it (an
 * account squatted before its owner arrived). Their password and sessions go, and the
 * provider's verification stands in for theirs.
 */
async function reclaimUnverifiedUser(trx: Kysely<Database>, user: UserRow, now: Date): Promise<UserRow> {
  await revokeAllSessions(trx, user.id, now);
  return updateUser(trx, user.id, { password_hash: null, must_change_password: false, email_verified_at: now }, now);
}

/** A new user with no password, under the same invite rules as POST /auth/register. */
async function registerUser(
  ctx: AppContext,
  trx: Kysely<Database>,
  identity: ProviderIdentity,
  invites: SignUpInvites,
  now: Date,
): Promise<{ user: UserRow; queuedEmail: boolean }> {
  const email = identity.email!;
  const { accountInvite, inviteCode } = await claimInvites(
    ctx,
    trx,
    { email, invite_code: invites.invite_code, account_invite_code: invites.account_invite_code },
    now,
  );
  const name = identity.name ?? email.split('@')[0]!;
  const userId = randomUUID();
  const accountId = accountInvite
    ? accountInvite.account_id
    : await createPersonalAccount(trx, { ownerId: userId, ownerName: name, inviteCode, trialDays: ctx.config.trialDays, now });
  const user = await insertUser(trx, {
    id: userId,
    email,
    password_hash: null,
    name,
    account_id: accountId,
    account_role: accountInvite ? accountInvite.role : 'owner',
    email_verified_at: identity.emailVerified ? now : null,
    invite_code_id: inviteCode?.id ?? null,
    created_at: now,
    updated_at: now,
  });
  if (accountInvite) await markAccountInviteAccepted(trx, accountInvite.id, user.id, now);
  if (inviteCode) await markInviteCodeUsed(trx, inviteCode.id, user.id, now);
  // Same as a password registration: an address nobody vouched for gets a verification email.
  const queuedEmail = identity.emailVerified ? false : await queueVerificationEmail(ctx, trx, user);
  return { user, queuedEmail };
}

async function recordOutcome(
  trx: Kysely<Database>,
  meta: RequestMeta,
  user: UserRow,
  identity: ProviderIdentity,
  outcome: Outcome,
): Promise<void> {
  const base = { userId: user.id, resourceType: 'user', resourceId: user.id };
  if (outcome.kind === 'register') {
    await recordAudit(trx, meta, {
      ...base,
      action: 'auth.oauth_register',
      details: { provider: identity.provider, account_id: user.account_id, email_verified: identity.emailVerified },
    });
  } else if (outcome.kind === 'link') {
    await recordAudit(trx, meta, {
      ...base,
      action: 'auth.oauth_link',
      details: { provider: identity.provider, reclaimed_unverified_account: outcome.reclaimed },
    });
  }
  // Every OAuth sign-in, whatever else it did, so "who signed in how" is one query.
  await recordAudit(trx, meta, { ...base, action: 'auth.oauth_login', details: { provider: identity.provider } });
}
