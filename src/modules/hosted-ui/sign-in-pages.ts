// /ui/sign-in (password and OAuth providers; passkeys plug in here), /ui/sign-out.
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { AppError, Errors } from '../../lib/errors.js';
import { looksLikeTotp } from '../mfa/mfa-codes.js';
import { verifyMfa } from '../mfa/mfa-sign-in.js';
import { requestMeta } from '../../plugins/authenticate.js';
import { perMinute, sharedBudget } from '../../plugins/rate-limit.js';
import { LoginJsonBody } from '../auth/auth.schemas.js';
import { login } from '../auth/login.service.js';
import { isMfaChallenge, MFA_TOKEN_TTL_SECONDS, type SignInResult } from '../auth/sign-in.js';
import { completeAuthorization, startAuthorization } from '../oauth/oauth.service.js';
import { createOAuthProviders } from '../oauth/providers.js';
import { checkForm, formField, providerLabel } from './form-validation.js';
import type { PageContext } from './hosted-ui.plugin.js';
import { endPageSession, startPageSession } from './page-session.js';
import { redirectWithError, redirectWithState } from './page-state.js';

const OAUTH_STATE_COOKIE = 'keyhold_oauth_state';
const OAUTH_STATE_SECONDS = 10 * 60;
/** Holds the mfa_token between the first factor and /ui/mfa; no session exists before the second. */
const MFA_COOKIE = 'keyhold_mfa';

/** Where a sign-in goes next: a page of ours only, never another site. */
export function safeNext(next: unknown): string {
  return typeof next === 'string' && /^\/ui\/[\w\-/]*$/.test(next) && !next.startsWith('//') ? next : '/ui/account';
}

/** The callback URL a provider sends the browser back to; listed in OAUTH_REDIRECT_URIS by config.ts. */
export const oauthCallbackUrl = (publicUrl: string, provider: string): string => `${publicUrl}/ui/oauth/${provider}/callback`;

export async function signInPages(app: FastifyInstance, pages: PageContext): Promise<void> {
  const { ctx, render, secure } = pages;
  const providers = createOAuthProviders(ctx);
  const oauthButtons = ctx.config.oauthProviders.map((provider) => ({ href: `/ui/oauth/${provider.name}`, label: `Continue with ${providerLabel(provider.name)}` }));
  const fail = (reply: FastifyReply, location: string, err: unknown, values: Record<string, string>) =>
    redirectWithError(reply, location, err, { values }, secure);

  /**
   * Where every first factor of the pages ends: the result of completeSignIn becomes a page
   * session. A second-factor challenge is kept in a short-lived cookie instead, and the browser
   * goes to /ui/mfa, whose post ends here too with the tokens of verifyMfa.
   */
  const mfaCookie = { path: '/ui', httpOnly: true, sameSite: 'lax', secure } as const;
  const finishSignIn = async (reply: FastifyReply, result: SignInResult, next: string): Promise<FastifyReply> => {
    if (isMfaChallenge(result)) {
      reply.setCookie(MFA_COOKIE, result.mfa_token, { ...mfaCookie, maxAge: MFA_TOKEN_TTL_SECONDS });
      return reply.code(303).redirect(`/ui/mfa${next === '/ui/account' ? '' : `?next=${encodeURIComponent(next)}`}`);
    }
    reply.clearCookie(MFA_COOKIE, mfaCookie);
    await startPageSession(ctx, reply, result);
    if (result.must_change_password) {
      return redirectWithState(reply, '/ui/account#password', { form: 'password', notice: 'Choose a new password to continue.' }, secure);
    }
    return reply.code(303).redirect(next);
  };

  app.get('/sign-in', { schema: { hide: true } }, async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    if (request.pageUser) return reply.redirect(safeNext(query.next));
    return render(request, reply, 'sign-in', {
      title: 'Sign in',
      next: safeNext(query.next),
      oauthButtons,
      // Issue 14 (passkeys): true when passkeys are on; the template has the button's slot.
      passkeys: false,
      canSignUp: ctx.config.selfServeEnabled || ctx.config.requireInviteCode,
    });
  });

  app.post('/sign-in', { schema: { hide: true } }, async (request, reply) => {
    const email = formField(request.body, 'email');
    const password = formField(request.body, 'password');
    const next = safeNext(formField(request.body, 'next'));
    const back = `/ui/sign-in${next === '/ui/account' ? '' : `?next=${encodeURIComponent(next)}`}`;
    const errors = checkForm(LoginJsonBody, { email, password });
    if (Object.keys(errors).length > 0) return redirectWithState(reply, back, { values: { email }, errors }, secure);
    try {
      // The API's budget: both login routes and this form draw from one per-IP allowance.
      await sharedBudget('login')(request);
      return await finishSignIn(reply, await login(ctx, email, password, requestMeta(request)), next);
    } catch (err) {
      return fail(reply, back, err, { email });
    }
  });

  app.get('/mfa', { schema: { hide: true } }, async (request, reply) => {
    const next = safeNext((request.query as Record<string, unknown>).next);
    if (!request.cookies[MFA_COOKIE]) return reply.code(303).redirect('/ui/sign-in');
    return render(request, reply, 'mfa', { title: 'Two-step verification', next });
  });

  // The second step, as POST /auth/mfa/verify (its limit too): a six-digit code is a TOTP code,
  // anything else a recovery code.
  app.post('/mfa', { config: perMinute(5), schema: { hide: true } }, async (request, reply) => {
    const next = safeNext(formField(request.body, 'next'));
    const back = `/ui/mfa${next === '/ui/account' ? '' : `?next=${encodeURIComponent(next)}`}`;
    const mfaToken = request.cookies[MFA_COOKIE] ?? '';
    const code = formField(request.body, 'code').trim();
    if (!mfaToken) return fail(reply, '/ui/sign-in', Errors.invalidOrExpiredMfaToken(), {});
    if (!code) return redirectWithState(reply, back, { errors: { code: 'Enter the code from your authenticator app, or a recovery code.' } }, secure);
    try {
      const tokens = await verifyMfa(ctx, looksLikeTotp(code) ? { mfa_token: mfaToken, code } : { mfa_token: mfaToken, recovery_code: code }, requestMeta(request));
      return await finishSignIn(reply, tokens, next);
    } catch (err) {
      // A dead token (expired, or killed by the 5th wrong code) sends the user back to the first factor.
      if (err instanceof AppError && err.message === Errors.invalidOrExpiredMfaToken().message) {
        reply.clearCookie(MFA_COOKIE, mfaCookie);
        return fail(reply, '/ui/sign-in', err, {});
      }
      if (err instanceof AppError) return redirectWithState(reply, back, { errors: { code: err.message } }, secure);
      throw err;
    }
  });

  app.get('/oauth/:provider', { config: perMinute(30), schema: { hide: true } }, async (request, reply) => {
    const { provider } = request.params as { provider: string };
    try {
      const started = await startAuthorization(ctx, providers, provider, oauthCallbackUrl(ctx.config.publicUrl, provider));
      // The flow is bound to this browser: the callback must come back with the state it started.
      reply.setCookie(OAUTH_STATE_COOKIE, started.state, { path: '/ui/oauth', httpOnly: true, sameSite: 'lax', secure, maxAge: OAUTH_STATE_SECONDS });
      return reply.code(303).redirect(started.authorization_url);
    } catch (err) {
      return fail(reply, '/ui/sign-in', err, {});
    }
  });

  app.get('/oauth/:provider/callback', { config: perMinute(10), schema: { hide: true } }, async (request, reply) => {
    const { provider } = request.params as { provider: string };
    const query = request.query as Record<string, unknown>;
    const expected = request.cookies[OAUTH_STATE_COOKIE] ?? '';
    reply.clearCookie(OAUTH_STATE_COOKIE, { path: '/ui/oauth', httpOnly: true, sameSite: 'lax', secure });
    const state = formField(query, 'state');
    const code = formField(query, 'code');
    try {
      if (!state || !code || !sameString(state, expected)) throw Errors.invalidOAuthState();
      const iss = formField(query, 'iss') || undefined;
      const result = await completeAuthorization(ctx, providers, provider, { code, state, iss, redirect_uri: oauthCallbackUrl(ctx.config.publicUrl, provider) }, requestMeta(request));
      return await finishSignIn(reply, result, '/ui/account');
    } catch (err) {
      return fail(reply, '/ui/sign-in', err, {});
    }
  });

  app.post('/sign-out', { schema: { hide: true } }, async (request, reply) => {
    await endPageSession(ctx, request, reply, requestMeta(request));
    return redirectWithState(reply, '/ui/sign-in', { notice: 'You have signed out.' }, secure);
  });
}

function sameString(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
