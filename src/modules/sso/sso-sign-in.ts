// Who an identity provider's answer signs in (API.md "Who is who"), and the single-use code
// that carries it to the front end. An identity is (connection, subject); its email must be
// on one of the connection's account's verified domains; nobody reaches another account
// through a connection. The session itself is made by the sign-in seam (completeSignIn) when
// the code is redeemed at POST /auth/sso/callback.
import { timingSafeEqual } from 'node:crypto';
import type { AppContext, RequestMeta } from '../../context.js';
import type { SsoConnectionRow, UserRow } from '../../db/schema.js';
import type { Executor } from '../../db/database.js';
import { addSeconds } from '../../lib/clock.js';
import { Errors } from '../../lib/errors.js';
import { hashSecret, randomToken } from '../../lib/random.js';
import { countOtherMembers, deleteAccount, lockAccount } from '../accounts/accounts.repo.js';
import { recordAudit } from '../audit/audit.repo.js';
import { completeSignIn, isMfaChallenge } from '../auth/sign-in.js';
import { accountOwningVerifiedDomain, emailDomain } from '../domains/domains.repo.js';
import { emitEvent } from '../events/emit-event.js';
import { emitSessionsRevoked } from '../events/session-events.js';
import { revokeAllSessions } from '../sessions/sessions.repo.js';
import type { TokenPair } from '../sessions/sessions.service.js';
import { createUser } from '../accounts/create-user.js';
import { findUserByEmail, findUserById, updateUser } from '../users/users.repo.js';
import { findIdentity, findPolicy, insertCode, insertIdentity, spendCode } from './sso.repo.js';
import { inUnitOfWork } from '../../db/unit-of-work.js';

/** How long the code handed to the front end may be redeemed. */
export const SSO_CODE_TTL_SECONDS = 60;

export interface ProvenIdentity {
  connection: SsoConnectionRow;
  subject: string;
  email: string | null;
  name: string | null;
  /** The provider asserted multi-factor authentication. */
  multiFactor: boolean;
}

export interface SsoFailure {
  connection: SsoConnectionRow | null;
  reason: string;
  meta: RequestMeta;
}

/** Records a refused SSO sign-in with its reason (its own write: the attempt's transaction rolled back). */
export async function recordSsoFailure(ctx: Pick<AppContext, 'db'>, { connection, reason, meta }: SsoFailure): Promise<void> {
  await recordAudit(ctx.db, meta, {
    action: 'sso.sign_in_failed',
    resourceType: 'sso_connection',
    resourceId: connection?.id,
    details: { reason, account_id: connection?.account_id ?? null },
  });
}

export interface AdmitIdentity {
  identity: ProvenIdentity;
  /** The client's state, handed back with the code. */
  clientState: string;
  meta: RequestMeta;
}

/**
 * Decides who the identity is (linking, joining or creating the user as the contract says) and
 * returns a single-use code for the front end. `trx` is the caller's transaction, in which the
 * caller also spent the request and recorded the assertion.
 */
export async function admitIdentity(ctx: AppContext, trx: Executor, { identity, clientState, meta }: AdmitIdentity): Promise<string> {
  const { connection } = identity;
  const now = ctx.clock.now();
  const email = identity.email;
  const domain = email ? emailDomain(email) : null;
  if (!email || !domain || (await accountOwningVerifiedDomain(trx, domain)) !== connection.account_id) throw Errors.ssoDomainNotVerified();

  let user: UserRow | undefined;
  const linked = await findIdentity(trx, connection.id, identity.subject);
  if (linked) {
    user = await findUserById(trx, linked.user_id);
  } else {
    user = await adoptOrCreate(ctx, trx, { identity, email, now, meta });
    await insertIdentity(trx, { connectionId: connection.id, subject: identity.subject, userId: user.id, email, now });
    await recordAudit(trx, meta, { action: 'sso.link', userId: user.id, resourceType: 'user', resourceId: user.id, details: { connection_id: connection.id, account_id: connection.account_id } });
  }
  // A connection signs in only its own account's people.
  if (!user || user.account_id !== connection.account_id) throw Errors.ssoNotAMember();
  if (!user.is_active) throw Errors.inactiveUser();

  const code = randomToken(32);
  await insertCode(trx, {
    codeHash: hashSecret(code),
    clientState,
    userId: user.id,
    connectionId: connection.id,
    multiFactor: identity.multiFactor,
    expiresAt: addSeconds(now, SSO_CODE_TTL_SECONDS),
  });
  return code;
}

/** An existing user of the account is linked; one alone in a personal account joins it; else a new member (auto_join). */
async function adoptOrCreate(
  ctx: AppContext,
  trx: Executor,
  signIn: { identity: ProvenIdentity; email: string; now: Date; meta: RequestMeta },
): Promise<UserRow> {
  const { identity, email, now, meta } = signIn;
  const accountId = identity.connection.account_id;
  const policy = await findPolicy(trx, accountId);
  const existing = await findUserByEmail(trx, email);
  if (existing) {
    if (!existing.is_active) throw Errors.inactiveUser();
    let user = existing;
    if (existing.account_id !== accountId) user = await joinAccount(ctx, trx, { user: existing, accountId, role: policy.default_role });
    // The account's identity provider vouches for the address: an unproven registration of it
    // (perhaps by someone else) loses its password and sessions, as in OAuth linking.
    if (user.email_verified_at === null) {
      await emitSessionsRevoked(ctx, trx, { sessions: await revokeAllSessions(trx, user.id, now), reason: 'account_reclaimed' });
      user = await updateUser(trx, { id: user.id, changes: { password_hash: null, must_change_password: false, email_verified_at: now }, now });
    }
    return user;
  }
  if (!policy.auto_join) throw Errors.ssoNotAMember();
  return createUser(ctx, trx, {
    input: {
      email,
      name: identity.name ?? email.split('@')[0]!,
      passwordHash: null,
      emailVerifiedAt: now,
      membership: { accountId, role: policy.default_role },
      audit: { action: 'sso.register', details: { connection_id: identity.connection.id } },
    },
    meta,
  });
}

/**
 * A user alone in their own personal account joins the connection's account, and the personal
 * account closes (as when its last member leaves). The owner of an account with other members
 * must hand it over first (409); a member of someone else's account is not taken from it.
 */
async function joinAccount(
  ctx: AppContext,
  trx: Executor,
  { user, accountId, role }: { user: UserRow; accountId: string; role: 'member' | 'admin' },
): Promise<UserRow> {
  const previous = await lockAccount(trx, user.account_id);
  const owns = user.account_role === 'owner' || previous?.owner_id === user.id;
  if (!owns) throw Errors.ssoNotAMember();
  if ((await countOtherMembers(trx, user.account_id, user.id)) > 0) throw Errors.ssoTransferOwnershipFirst();
  const now = ctx.clock.now();
  const moved = await updateUser(trx, { id: user.id, changes: { account_id: accountId, account_role: role }, now });
  await deleteAccount(trx, user.account_id);
  await emitEvent(ctx, trx, { type: 'account.member_added', data: { account_id: accountId, user_id: user.id, role } });
  return moved;
}

const sameText = (a: string, b: string): boolean => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

/** POST /auth/sso/callback: the code (single use, 60 s) and the state it was issued with → tokens. */
export async function redeemCode(ctx: AppContext, input: { code: string; state: string }, meta: RequestMeta): Promise<TokenPair> {
  const tokens = await inUnitOfWork(ctx, async (trx) => {
    const spent = await spendCode(trx, hashSecret(input.code), ctx.clock.now());
    if (!spent || !sameText(spent.client_state, input.state)) throw Errors.invalidSsoCode();
    const user = await findUserById(trx, spent.user_id);
    if (!user || user.account_id === undefined) throw Errors.invalidSsoCode();
    const result = await completeSignIn(ctx, trx, {
      user,
      factor: {
        method: 'sso',
        multiFactor: spent.multi_factor,
        audit: { action: 'sso.sign_in', details: { connection_id: spent.connection_id, account_id: user.account_id } },
      },
      meta,
    });
    if (isMfaChallenge(result)) throw Errors.internal();
    return result;
  });
  return tokens;
}
