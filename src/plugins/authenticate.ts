// Bearer authentication. `requireUser` loads the user in one statement and only while the
// token's session is live, so logout and password changes kill access tokens at once.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../context.js';
import type { UserRow } from '../db/schema.js';
import { Errors } from '../lib/errors.js';
import { findUserInLiveSession } from '../modules/users/users.repo.js';

declare module 'fastify' {
  interface FastifyRequest {
    user?: UserRow;
    /** The session (sid) of the access token that authenticated the request. */
    sessionId?: string;
  }
}

export function bearerToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1]! : null;
}

/** Runs as an onRequest hook: credentials are checked before the body is even parsed,
 *  so an anonymous caller learns nothing from validation errors (401 comes first). */
export type AuthHook = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

export function requireUser(ctx: AppContext): AuthHook {
  return async function authenticate(request: FastifyRequest) {
    const checked = await ctx.tokens.check(bearerToken(request), 'access');
    if (!checked.claims) throw checked.expired ? Errors.tokenExpired() : Errors.credentials();
    const claims = checked.claims;
    if (!claims.sid) throw Errors.credentials();
    const user = await findUserInLiveSession(ctx.db, claims.sub, claims.sid);
    if (!user) throw Errors.credentials();
    if (!user.is_active) throw Errors.inactiveUser();
    request.user = user;
    request.sessionId = claims.sid;
  };
}

export function requireAdmin(ctx: AppContext): AuthHook {
  const authenticate = requireUser(ctx);
  return async function authenticateAdmin(request, reply) {
    await authenticate(request, reply);
    if (request.user?.role !== 'admin') throw Errors.notEnoughPermissions();
  };
}

/** The authenticated user; only valid in a route guarded by requireUser/requireAdmin. */
export function currentUser(request: FastifyRequest): UserRow {
  if (!request.user) throw Errors.credentials();
  return request.user;
}

/** The session of the request's access token; only valid where currentUser is. */
export function currentSessionId(request: FastifyRequest): string {
  if (!request.sessionId) throw Errors.credentials();
  return request.sessionId;
}

export const requestMeta = (request: FastifyRequest) => ({
  ip: request.ip ?? null,
  userAgent: typeof request.headers['user-agent'] === 'string' ? request.headers['user-agent'] : null,
});
