// Who an identity provider's answer signs in (API.md "Who is who"), and the single-use code
// that carries it to the front end. An identity is (connection, subject); its email must be
// on one of the connection's account's verified domains; nobody reaches another account
// through a connection. The session itself is made by the sign-in seam (completeSignIn) when
// the code is redeemed at POST /auth/sso/callback.
import { randomUUID, timingSafeEqual } from 'node:crypto';
import type { AppContext, RequestMeta } from '../../context.js';
import type { SsoConnectionRow, UserRow } from '../../db/schema.js';
import type { Executor } from '../../db/database.js';
import { addSeconds } from '../../lib/clock.js';
import { Errors } from '../../lib/errors.js';
import { hashSecret, randomToken } from '../../lib/random.js';
import { countOtherMembers, deleteAccount, lockAccount } from '../accounts/accounts.repo.js';
import { auditWrite, recordAudit } from '../audit/audit.repo.js';
import { completeSignIn, isMfaChallenge } from '../auth/sign-in.js';
import { emailDomain } from '../domains/domains.repo.js';
import { emitEvent } from '../events/emit-event.js';
import { emitSessionsRevoked } from '../events/session-events.js';
import { revokeAllSessions } from '../sessions/sessions.repo.js';
import type { TokenPair } from '../sessions/sessions.service.js';
import { createUsers } from '../accounts/create-user.js';
import { findUserById, updateUser } from '../users/users.repo.js';
import { spendCode, type SsoPolicy } from './sso.repo.js';
import { codeWrite, findSignInFacts, identityWrite, type FactsOf, type SignInFacts } from './sso-sign-in.repo.js';
import { writeTogether, type Write } from '../../db/together.js';
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
  /** Who the identity is, when the caller read it with its own statement (the SAML ACS); else read here. */
  facts?: SignInFacts;
  /** The client's state, handed back with the code. */
  clientState: string;
  meta: RequestMeta;
}

/** What the sign-in facts are read by (sso-sign-in.repo.ts): the email's domain, the identity, the account. */
export const signInFactsOf = (identity: ProvenIdentity): FactsOf => ({
  domain: identity.email ? emailDomain(identity.email) : null,
  connectionId: identity.connection.id,
  subject: identity.subject,
  accountId: identity.connection.account_id,
  email: identity.email,
});

/**
 * Decides who the identity is (linking, joining or creating the user as the contract says) and
 * returns a single-use code for the front end. `trx` is the caller's transaction, in which the
 * caller also spent the request and recorded the assertion. One read (sso-sign-in.repo.ts) and,
 * for a new user, one statement for the user and one for everything else (db/together.ts).
 */
export async function admitIdentity(ctx: AppContext, trx: Executor, { identity, clientState, meta, facts: known }: AdmitIdentity): Promise<string> {
  const { connection } = identity;
  const now = ctx.clock.now();
  const email = identity.email;
  if (!email || !emailDomain(email)) throw Errors.ssoDomainNotVerified();
  const facts = known ?? (await findSignInFacts(trx, signInFactsOf(identity)));
  if (facts.domainAccountId !== connection.account_id) throw Errors.ssoDomainNotVerified();

  const code = randomToken(32);
  const codeFor = (userId: string): Write => codeWrite({
    codeHash: hashSecret(code),
    clientState,
    userId,
    connectionId: connection.id,
    multiFactor: identity.multiFactor,
    expiresAt: addSeconds(now, SSO_CODE_TTL_SECONDS),
  });
  const link = (userId: string): Write[] => [
    identityWrite({ connectionId: connection.id, subject: identity.subject, userId, email, now }),
    auditWrite(meta, { action: 'sso.link', userId, resourceType: 'user', resourceId: userId, details: { connection_id: connection.id, account_id: connection.account_id } }),
  ];

  let user = facts.user;
  let writes: Write[] = [];
  if (!facts.linked) {
    if (user) {
      user = await adopt(ctx, trx, { existing: user, accountId: connection.account_id, policy: facts.policy, now });
    } else {
      // A new member (auto_join): the user's row, then its audit row and event, the link and
      // the code in one statement.
      if (!facts.policy.auto_join) throw Errors.ssoNotAMember();
      const id = randomUUID();
      user = await createMember(ctx, trx, { identity, email, policy: facts.policy, meta, also: [...link(id), codeFor(id)], id });
      return code;
    }
    writes = link(user.id);
  }
  // A connection signs in only its own account's people.
  if (!user || user.account_id !== connection.account_id) throw Errors.ssoNotAMember();
  if (!user.is_active) throw Errors.inactiveUser();
  await writeTogether(trx, [...writes, codeFor(user.id)]);
  return code;
}

/** An existing user of the account is linked; one alone in a personal account joins it. */
async function adopt(
  ctx: AppContext,
  trx: Executor,
  { existing, accountId, policy, now }: { existing: UserRow; accountId: string; policy: SsoPolicy; now: Date },
): Promise<UserRow> {
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

/** A new member of the connection's account; nobody holds the address (the sign-in facts said so, in this transaction). */
async function createMember(
  ctx: AppContext,
  trx: Executor,
  member: { identity: ProvenIdentity; email: string; policy: SsoPolicy; meta: RequestMeta; also: Write[]; id: string },
): Promise<UserRow> {
  const { identity, email } = member;
  const [user] = await createUsers(ctx, trx, {
    inputs: [{
      id: member.id,
      email,
      name: identity.name ?? email.split('@')[0]!,
      passwordHash: null,
      emailVerifiedAt: ctx.clock.now(),
      membership: { accountId: identity.connection.account_id, role: member.policy.default_role },
      audit: { action: 'sso.register', details: { connection_id: identity.connection.id } },
    }],
    meta: member.meta,
    announce: true,
    also: member.also,
  });
  return user!;
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
