// Where every sign-in step of the pages ends: a password, an OAuth provider or a passkey as the
// first factor, and the MFA step. A finished sign-in becomes a page session; a second-factor
// challenge is kept in a short-lived cookie instead (no session exists before the second
// factor), and the browser goes to /ui/mfa, whose posts end here too.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Errors, isCatalogued, type AppError } from '../../lib/errors.js';
import { isMfaChallenge, MFA_TOKEN_TTL_SECONDS, type SignInResult } from '../auth/sign-in.js';
import type { PageContext } from './page-context.js';
import { requestMeta } from '../../plugins/authenticate.js';
import { endPageSession, SESSION_COOKIE, startPageSession } from './page-session.js';
import { keepState } from './page-state.js';
import { relinkProviderSessions } from '../oidc-provider/oidc-models.repo.js';

/** Holds the mfa_token between the first factor and /ui/mfa. */
export const MFA_COOKIE = 'keyhold_mfa';

/** Where a sign-in goes next: a page of ours only, never another site. */
export function safeNext(next: unknown): string {
  return typeof next === 'string' && /^\/ui\/[\w\-/]*$/.test(next) && !next.startsWith('//') ? next : '/ui/account';
}

/** A page's address with `next` (when it is not the default) and other query fields. */
export function withNext(path: string, next: string, query: Record<string, string> = {}): string {
  const params = new URLSearchParams(query);
  if (next !== '/ui/account') params.set('next', next);
  const search = params.toString();
  return search ? `${path}?${search}` : path;
}

/** An mfa_token that expired, was spent, or was killed by the 5th wrong answer. */
export function isDeadMfaToken(err: unknown): err is AppError {
  return isCatalogued(err, Errors.invalidOrExpiredMfaToken);
}

/** A sign-in step's result and where the browser goes after the sign-in (`next`). */
export interface SignInStep {
  result: SignInResult;
  next: string;
}

export interface SignInFinisher {
  /** Sets the cookies of a finished step and returns where the browser goes next. */
  settle(request: FastifyRequest, reply: FastifyReply, step: SignInStep): Promise<string>;
  /** `settle`, answered with a redirect (the forms' way). */
  finish(request: FastifyRequest, reply: FastifyReply, step: SignInStep): Promise<FastifyReply>;
  /** Drops the MFA cookie (its token is spent or dead). */
  clearMfa(reply: FastifyReply): void;
}

export function signInFinisher({ ctx, secure }: PageContext): SignInFinisher {
  const mfaCookie = { path: '/ui', httpOnly: true, sameSite: 'lax', secure } as const;
  const settle = async (request: FastifyRequest, reply: FastifyReply, { result, next }: SignInStep): Promise<string> => {
    if (isMfaChallenge(result)) {
      reply.setCookie(MFA_COOKIE, result.mfa_token, { ...mfaCookie, maxAge: MFA_TOKEN_TTL_SECONDS });
      // The page offers a passkey only when the challenge allows one.
      return withNext('/ui/mfa', next, result.methods.includes('passkey') ? { passkey: '1' } : {});
    }
    reply.clearCookie(MFA_COOKIE, mfaCookie);
    // A browser that signs in again (a direct post: the sign-in page sends a signed-in browser
    // on) leaves its earlier session, which would otherwise live on unseen until it expired.
    // Best effort: the new sign-in has happened, and its page session must start regardless.
    if (request.cookies[SESSION_COOKIE]) {
      // The same user signing in again in this browser (prompt=login, max_age, a second factor
      // for an app) keeps the apps' single sign-on: the provider sessions of the earlier session
      // move to the new one instead of ending with it, which would also void the authorization
      // under way (oidc-provider refuses an interaction whose session is gone).
      const earlier = request.pageUser;
      const claims = earlier ? await ctx.tokens.verify(result.access_token, 'access') : undefined;
      if (earlier && claims?.sid && claims.sub === earlier.id) {
        await relinkProviderSessions(ctx.db, { userId: earlier.id, from: earlier.page_session_id, to: claims.sid });
      }
      await endPageSession(ctx, { request, reply }, requestMeta(request)).catch((err: Error) =>
        request.log.warn({ err: { message: err.message } }, 'the earlier page session could not be ended'),
      );
    }
    await startPageSession(ctx, reply, result);
    if (result.must_change_password) {
      keepState(reply, { form: 'password', notice: 'Choose a new password to continue.' }, secure);
      return '/ui/account#password';
    }
    return next;
  };
  return {
    settle,
    finish: async (request, reply, step) => reply.code(303).redirect(await settle(request, reply, step)),
    clearMfa: (reply) => void reply.clearCookie(MFA_COOKIE, mfaCookie),
  };
}
