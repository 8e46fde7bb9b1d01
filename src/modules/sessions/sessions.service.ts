// Sessions and the tokens that carry them: issue on sign-in, rotate on refresh, revoke on
// logout. A session is a family of refresh tokens with at most one live member.
import { randomUUID } from 'node:crypto';
import type { AppContext, RequestMeta } from '../../context.js';
import { addDays } from '../../lib/clock.js';
import { Errors, type AppError } from '../../lib/errors.js';
import { hashSecret } from '../../lib/random.js';
import type { AccountClaims } from '../../lib/tokens.js';
import { recordAudit } from '../audit/audit.repo.js';
import { newEvent } from '../events/emit-event.js';
import { emitSessionsRevoked, sessionEventData } from '../events/session-events.js';
import { findPresentedToken, findSessionOfToken, rotateRefreshToken } from './refresh-tokens.repo.js';
import { revokeSession, sessionWrites, type Aal } from './sessions.repo.js';
import type { Write } from '../../db/together.js';
import type { Executor } from '../../db/executor.js';
import { eventWrites } from '../events/events.repo.js';
import { inUnitOfWork } from '../../db/unit-of-work.js';

export interface TokenPair {
  access_token: string;
  refresh_token: string;
  token_type: 'bearer';
  must_change_password: boolean;
}

type SessionDeps = Pick<AppContext, 'tokens' | 'clock' | 'config'>;

const wholeSeconds = (date: Date): Date => new Date(Math.floor(date.getTime() / 1000) * 1000);

/** How the user proved who they are: kept on the session and carried by its access tokens. */
export interface Assurance {
  aal: Aal;
  /** Authentication method references (RFC 8176), e.g. ['pwd'] or ['pwd', 'otp']. */
  amr: string[];
}

/** Stored user agents are cut to this many characters: the device list needs no more. */
const USER_AGENT_KEPT = 512;

/** A session about to start: the writes that start it, and the tokens it hands out once
 *  they commit. */
export interface NewSessionStart {
  writes: Write[];
  tokens: TokenPair;
}

/** Starts a session for a user who has just proven who they are: the caller sends `writes` in
 *  the sign-in's transaction `db`, with its own (completeSignIn is the only caller). */
export async function newSession(
  deps: SessionDeps,
  db: Executor,
  start: { user: { id: string; must_change_password: boolean } & AccountClaims; assurance: Assurance; meta: RequestMeta },
): Promise<NewSessionStart> {
  const { user, assurance, meta } = start;
  const sessionId = randomUUID();
  // The session keeps its precise start (two sign-ins within a second list in order); the
  // refresh token's iat is whole seconds.
  const startedAt = deps.clock.now();
  const issuedAt = wholeSeconds(startedAt);
  const refresh = await deps.tokens.issue('refresh', user.id, {
    sid: sessionId,
    issuedAt,
    expiresAt: addDays(issuedAt, deps.config.refreshTokenExpireDays),
  });
  const userAgent = meta.userAgent?.slice(0, USER_AGENT_KEPT) ?? null;
  const writes = sessionWrites({
    sessionId,
    userId: user.id,
    tokenId: randomUUID(),
    tokenHash: hashSecret(refresh.jti),
    issuedAt: refresh.issuedAt,
    startedAt,
    expiresAt: refresh.expiresAt,
    ip: meta.ip,
    userAgent,
    aal: assurance.aal,
    amr: assurance.amr,
  });
  const event = newEvent(deps, 'session.created', sessionEventData({
    id: sessionId, user_id: user.id, created_at: startedAt, ip: meta.ip, user_agent: userAgent, aal: assurance.aal, amr: assurance.amr,
  }));
  const access = await deps.tokens.issue('access', user.id, { sid: sessionId, aal: assurance.aal, amr: assurance.amr, account: accountClaims(user) });
  return { writes: [...writes, ...eventWrites(db, event)], tokens: tokenPair(access.token, refresh.token, user.must_change_password) };
}

/**
 * Rotation with a grace window. The fast path is one statement. When it matches nothing,
 * the presented token is examined: the immediate parent of the live token, within
 * REFRESH_REUSE_INTERVAL_SECONDS, gets that same live token again (a lost response or two
 * tabs never log a user out); any other reuse means the token leaked, and the whole
 * session is revoked.
 */
export async function refreshSession(ctx: AppContext, presented: unknown, meta: RequestMeta): Promise<TokenPair> {
  const claims = await ctx.tokens.verify(presented, 'refresh');
  if (!claims || !claims.sid) throw refused(ctx, Errors.invalidRefreshToken());

  const now = ctx.clock.now();
  const issuedAt = wholeSeconds(now);
  const parentHash = hashSecret(claims.jti);
  const childJti = ctx.tokens.childJti(claims.jti);
  const expiresAt = addDays(issuedAt, ctx.config.refreshTokenExpireDays);

  const rotated = await rotateRefreshToken(ctx.db, {
    parentHash,
    userId: claims.sub,
    childId: randomUUID(),
    childHash: hashSecret(childJti),
    issuedAt,
    expiresAt,
    now,
    ip: meta.ip,
  });
  if (rotated) {
    ctx.metrics.refreshes.inc('rotated');
    return issuePair(ctx, {
      userId: claims.sub,
      sessionId: rotated.session_id,
      refresh: { jti: childJti, issuedAt, expiresAt },
      mustChangePassword: rotated.must_change_password,
      claims: { aal: rotated.aal, amr: rotated.amr, account: accountClaims(rotated) },
    });
  }

  const token = await findPresentedToken(ctx.db, parentHash);
  if (!token || token.user_id !== claims.sub) throw refused(ctx, Errors.refreshTokenRevoked());
  if (!token.user_exists) throw refused(ctx, Errors.refreshUserNotFound());
  // Still live, yet it did not rotate: its user was deactivated (or it just expired).
  if (token.revoked_at === null) throw refused(ctx, token.user_active ? Errors.refreshTokenRevoked() : Errors.inactiveUser());

  const graceMs = ctx.config.refreshReuseIntervalSeconds * 1000;
  const withinGrace =
    token.has_child &&
    token.child_revoked_at === null &&
    token.child_expires_at !== null &&
    token.child_issued_at !== null &&
    token.child_expires_at.getTime() > now.getTime() &&
    now.getTime() - token.revoked_at.getTime() < graceMs;
  // Within the window the parent stands for its live child, so it gets the child's answer: a
  // deactivated user's live token is 403, never a fresh pair (and it is no leak to punish).
  if (withinGrace && token.user_active !== true) throw refused(ctx, Errors.inactiveUser());
  if (withinGrace) {
    ctx.metrics.refreshes.inc('grace');
    return issuePair(ctx, {
      userId: claims.sub,
      sessionId: token.session_id,
      refresh: { jti: childJti, issuedAt: token.child_issued_at!, expiresAt: token.child_expires_at! },
      mustChangePassword: token.must_change_password ?? false,
      claims: { aal: token.aal, amr: token.amr, account: { account_id: token.account_id!, account_role: token.account_role!, role: token.role! } },
    });
  }

  // Reuse of a rotated token outside the grace window: it leaked. End its session. (A token
  // revoked by logout, a password change or deactivation finds nothing left to revoke.)
  const endedSession = await inUnitOfWork(ctx, async (trx) => {
    const revoked = await revokeSession(trx, token.session_id, now);
    if (!revoked) return false;
    await emitSessionsRevoked(ctx, trx, { sessions: [revoked], reason: 'refresh_token_reuse' });
    await recordAudit(trx, null, {
      action: 'auth.refresh_token_reuse',
      userId: token.user_id,
      resourceType: 'session',
      resourceId: token.session_id,
    });
    return true;
  });
  // `reuse` counts what the audit log records: a leaked token that ended a live session.
  ctx.metrics.refreshes.inc(endedSession ? 'reuse' : 'refused');
  throw Errors.refreshTokenRevoked();
}

/** Counts a refused refresh (any 401 or 403) and returns the error to throw. */
function refused(ctx: Pick<AppContext, 'metrics'>, error: AppError): AppError {
  ctx.metrics.refreshes.inc('refused');
  return error;
}

/** The pair a refresh answers with: the child refresh token (its jti and times fixed by the rotation) and a new access token. */
interface PairToIssue {
  userId: string;
  sessionId: string;
  refresh: { jti: string; issuedAt: Date; expiresAt: Date };
  mustChangePassword: boolean;
  claims: Assurance & { account: AccountClaims };
}

async function issuePair(ctx: AppContext, pair: PairToIssue): Promise<TokenPair> {
  const { userId, sessionId, claims } = pair;
  const refresh = await ctx.tokens.issue('refresh', userId, { sid: sessionId, ...pair.refresh });
  const access = await ctx.tokens.issue('access', userId, { sid: sessionId, aal: claims.aal, amr: claims.amr, account: claims.account });
  return tokenPair(access.token, refresh.token, pair.mustChangePassword);
}

/** Logout ends the session the refresh token belongs to, which kills its access tokens too. */
export async function logout(ctx: AppContext, presented: unknown, meta: RequestMeta): Promise<void> {
  const claims = await ctx.tokens.verify(presented, 'refresh');
  if (!claims) throw Errors.invalidRefreshToken();
  const token = await findSessionOfToken(ctx.db, hashSecret(claims.jti));
  if (!token || token.user_id !== claims.sub) return;
  await signOutSession(ctx, { session: { userId: token.user_id, sessionId: token.session_id }, meta });
}

/** The account claims of a user row (first-party access tokens carry them; see lib/tokens.ts). */
const accountClaims = (user: AccountClaims): AccountClaims => ({ account_id: user.account_id, account_role: user.account_role, role: user.role });

const tokenPair = (access: string, refresh: string, mustChangePassword: boolean): TokenPair => ({
  access_token: access,
  refresh_token: refresh,
  token_type: 'bearer',
  must_change_password: mustChangePassword,
});

export interface SignOut {
  session: { userId: string; sessionId: string };
  meta: RequestMeta;
  details?: Record<string, unknown>;
}

/** Signs out of one session (logout, the hosted pages' sign-out): audited as auth.logout, and
 *  its session.revoked event; false when it was not live. Always audited, as logout always was.
 *  (Ending a session from the device list is device-sessions.service.ts's endOwnSession.) */
export async function signOutSession(
  ctx: Pick<AppContext, 'db' | 'clock' | 'jobs'>,
  { session, meta, details = {} }: SignOut,
): Promise<boolean> {
  const revoked = await inUnitOfWork(ctx, async (trx) => {
    const ended = await revokeSession(trx, session.sessionId, ctx.clock.now());
    await emitSessionsRevoked(ctx, trx, { sessions: ended ? [ended] : [], reason: 'logout' });
    await recordAudit(trx, meta, {
      action: 'auth.logout',
      userId: session.userId,
      resourceType: 'session',
      resourceId: session.sessionId,
      ...(Object.keys(details).length > 0 ? { details } : {}),
    });
    return ended !== undefined;
  });
  return revoked;
}
