// The hosted pages' browser session. The cookie holds 32 random bytes; ui_sessions keeps only
// their SHA-256 with the Keyhold session the sign-in started (completeSignIn), so a copy of
// the database cannot be replayed as a cookie, and a page is signed in only while that session
// is live: logout, a password change or reset, deactivation or ending the session from the
// device list signs the browser out too, on its next request.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext, RequestMeta } from '../../context.js';
import { addDays } from '../../lib/clock.js';
import { hashSecret, randomToken } from '../../lib/random.js';
import type { TokenPair } from '../sessions/sessions.service.js';
import { signOutSession } from '../sessions/sessions.service.js';
import { deletePageSession, findUserOfPageSession, insertPageSession, type PageSessionUser } from './page-sessions.repo.js';

export const SESSION_COOKIE = 'keyhold_session';

/** Browsers keep Secure cookies from plain-HTTP loopback only, so Secure is left off there alone. */
export function cookieIsSecure(publicUrl: string): boolean {
  const url = new URL(publicUrl);
  return !(url.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname));
}

export interface CookieOptions {
  path: string;
  httpOnly: true;
  sameSite: 'lax';
  secure: boolean;
}

export const sessionCookieOptions = (ctx: Pick<AppContext, 'config'>): CookieOptions => ({
  path: '/ui',
  httpOnly: true,
  sameSite: 'lax',
  secure: cookieIsSecure(ctx.config.publicUrl),
});

/**
 * Turns a finished sign-in into a page session and sets its cookie. The page keeps no token:
 * the access token only names the session (its `sid`), and the refresh token is dropped, so
 * the session lives as long as its first refresh token would.
 */
export async function startPageSession(
  ctx: Pick<AppContext, 'db' | 'tokens' | 'clock' | 'config'>,
  reply: FastifyReply,
  signIn: TokenPair,
): Promise<void> {
  const claims = await ctx.tokens.verify(signIn.access_token, 'access');
  if (!claims?.sid) throw new Error('a sign-in returned an access token without a session');
  const value = randomToken(32);
  const expiresAt = addDays(ctx.clock.now(), ctx.config.refreshTokenExpireDays);
  await insertPageSession(ctx.db, { cookieHash: hashSecret(value), sessionId: claims.sid, expiresAt });
  reply.setCookie(SESSION_COOKIE, value, { ...sessionCookieOptions(ctx), expires: expiresAt });
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The signed-in user of a hosted page (undefined: signed out); set by loadPageSession. */
    pageUser?: PageSessionUser;
  }
}

/** An onRequest hook for /ui/ pages: who is signed in, if anyone. An active user only. */
export function loadPageSession(ctx: Pick<AppContext, 'db' | 'clock'>) {
  return async function pageSession(request: FastifyRequest): Promise<void> {
    const value = request.cookies[SESSION_COOKIE];
    if (!value || value.length > 100) return;
    const user = await findUserOfPageSession(ctx.db, hashSecret(value), ctx.clock.now());
    if (user?.is_active) request.pageUser = user;
  };
}

/** Sign-out: ends the Keyhold session behind the cookie (so its tokens die too) and the cookie. */
export async function endPageSession(
  ctx: Pick<AppContext, 'db' | 'clock' | 'config' | 'jobs'>,
  { request, reply }: { request: FastifyRequest; reply: FastifyReply },
  meta: RequestMeta,
): Promise<void> {
  const value = request.cookies[SESSION_COOKIE];
  if (request.pageUser) {
    await signOutSession(ctx, {
      session: { userId: request.pageUser.id, sessionId: request.pageUser.page_session_id },
      meta,
      details: { via: 'hosted_ui' },
    });
  }
  if (value) await deletePageSession(ctx.db, hashSecret(value));
  reply.clearCookie(SESSION_COOKIE, sessionCookieOptions(ctx));
}

/** The page's signed-in user; when there is none, the reply becomes a redirect to sign in. */
export function signedInUser(request: FastifyRequest, reply: FastifyReply): PageSessionUser | undefined {
  if (!request.pageUser) void reply.code(303).redirect('/ui/sign-in?next=/ui/account');
  return request.pageUser;
}
