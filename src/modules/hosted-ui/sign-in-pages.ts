// /ui/sign-in (password and OAuth providers; passkeys in passkey-pages.ts; SSO in sso-pages.ts),
// /ui/mfa, /ui/sign-out. Where any account has an SSO connection, the sign-in form asks for the
// email first: a domain an identity provider serves goes there, any other to the password step.
import { timingSafeEqual } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { pagesOAuthCallbackUrl } from '../../config.js';
import { AppError, Errors } from '../../lib/errors.js';
import { looksLikeTotp } from '../mfa/mfa-codes.js';
import { verifyMfa } from '../auth/mfa-sign-in.js';
import { requestMeta } from '../../plugins/authenticate.js';
import { perMinute, sharedBudget } from '../../plugins/rate-limit.js';
import { LoginJsonBody } from '../auth/auth.schemas.js';
import { login } from '../auth/login.service.js';
import { completeAuthorization, startAuthorization } from '../oauth/oauth.service.js';
import { createOAuthProviders } from '../oauth/providers.js';
import { anyEnabledConnection } from '../sso/sso.repo.js';
import { checkForm, formField } from './form-validation.js';
import { pageText, providerLabel } from './page-text.js';
import type { PageContext } from './page-context.js';
import { endPageSession } from './page-session.js';
import { redirectWithError, redirectWithState } from './page-state.js';
import { isDeadMfaToken, MFA_COOKIE, safeNext, signInFinisher, withNext } from './sign-in-finish.js';
import { redirectToIdentityProvider } from './sso-pages.js';

const OAUTH_STATE_COOKIE = 'keyhold_oauth_state';
const OAUTH_STATE_SECONDS = 10 * 60;
const EmailStep = Type.Pick(LoginJsonBody, ['email']);

export async function signInPages(app: FastifyInstance, pages: PageContext): Promise<void> {
  const { ctx, render, secure } = pages;
  const providers = createOAuthProviders(ctx);
  const oauthButtons = ctx.config.oauthProviders.map((provider) => ({ href: `/ui/oauth/${provider.name}`, label: `Continue with ${providerLabel(provider.name)}` }));
  const fail = (reply: FastifyReply, { location, err, values }: { location: string; err: unknown; values: Record<string, string> }) =>
    redirectWithError(reply, { location, err, state: { values }, secure });

  const { finish, clearMfa } = signInFinisher(pages);

  app.get('/sign-in', { schema: { hide: true } }, async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    // `again`: an OpenID authorization asks for a new sign-in (prompt=login, max_age, a second factor).
    if (request.pageUser && query.again !== '1') return reply.redirect(safeNext(query.next));
    return render(request, reply, { view: 'sign-in', data: {
      title: 'Sign in',
      next: safeNext(query.next),
      // The email step, unless this is the password step that follows it (or no SSO exists).
      emailFirst: query.step !== 'password' && (await anyEnabledConnection(ctx.db)),
      step: query.step === 'password' ? 'password' : undefined,
      again: query.again === '1',
      // An OpenID authorization's login_hint (oidc-pages.ts): the email field's first value.
      loginHint: typeof query.login_hint === 'string' && query.login_hint.length <= 320 ? query.login_hint : undefined,
      oauthButtons,
      passkeysOffered: pages.passkeys,
      canSignUp: ctx.config.selfServeEnabled || ctx.config.requireInviteCode,
    } });
  });

  app.post('/sign-in', { schema: { hide: true } }, async (request, reply) => {
    const email = formField(request.body, 'email');
    const password = formField(request.body, 'password');
    const next = safeNext(formField(request.body, 'next'));
    // `again` is kept through the steps: without it a signed-in browser would be sent on.
    const again: Record<string, string> = formField(request.body, 'again') === '1' ? { again: '1' } : {};
    const step = formField(request.body, 'step');
    const back = withNext('/ui/sign-in', next, { ...(step === 'password' ? { step } : {}), ...again });
    if (step === 'email') {
      const errors = checkForm(EmailStep, { email });
      if (Object.keys(errors).length > 0) return redirectWithState(reply, { location: back, state: { values: { email }, errors }, secure });
      const toProvider = await redirectToIdentityProvider(pages, reply, { email, next });
      return toProvider ?? redirectWithState(reply, { location: withNext('/ui/sign-in', next, { step: 'password', ...again }), state: { values: { email } }, secure });
    }
    const errors = checkForm(LoginJsonBody, { email, password });
    if (Object.keys(errors).length > 0) return redirectWithState(reply, { location: back, state: { values: { email }, errors }, secure });
    try {
      // The API's budget: both login routes and this form draw from one per-IP allowance.
      await sharedBudget('login')(request);
      return await finish(request, reply, { result: await login(ctx, { email, password, meta: requestMeta(request) }), next });
    } catch (err) {
      // An account that enforces SSO for the domain: its identity provider, not a refusal.
      const toProvider = err instanceof AppError && err.code === 'sso_required' ? await redirectToIdentityProvider(pages, reply, { email, next }) : undefined;
      if (toProvider) return toProvider;
      return fail(reply, { location: back, err, values: { email } });
    }
  });

  app.get('/mfa', { schema: { hide: true } }, async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    if (!request.cookies[MFA_COOKIE]) return reply.code(303).redirect('/ui/sign-in');
    return render(request, reply, { view: 'mfa', data: { title: 'Two-step verification', next: safeNext(query.next), passkeysOffered: query.passkey === '1' && pages.passkeys } });
  });

  // The second step, as POST /auth/mfa/verify (its budget too): a six-digit code is a TOTP code,
  // anything else a recovery code.
  app.post('/mfa', { preHandler: sharedBudget('mfa-verify'), schema: { hide: true } }, async (request, reply) => {
    const next = safeNext(formField(request.body, 'next'));
    const back = withNext('/ui/mfa', next, formField(request.body, 'passkey') === '1' ? { passkey: '1' } : {});
    const mfaToken = request.cookies[MFA_COOKIE] ?? '';
    const code = formField(request.body, 'code').trim();
    if (!mfaToken) return fail(reply, { location: '/ui/sign-in', err: Errors.invalidOrExpiredMfaToken(), values: {} });
    if (!code) return redirectWithState(reply, { location: back, state: { errors: { code: 'Enter the code from your authenticator app, or a recovery code.' } }, secure });
    try {
      const tokens = await verifyMfa(ctx, looksLikeTotp(code) ? { mfa_token: mfaToken, code } : { mfa_token: mfaToken, recovery_code: code }, requestMeta(request));
      return await finish(request, reply, { result: tokens, next });
    } catch (err) {
      // A dead token (expired, or killed by the 5th wrong code) sends the user back to the first factor.
      if (isDeadMfaToken(err)) {
        clearMfa(reply);
        return fail(reply, { location: '/ui/sign-in', err, values: {} });
      }
      if (err instanceof AppError) return redirectWithState(reply, { location: back, state: { errors: { code: pageText(err).message } }, secure });
      throw err;
    }
  });

  app.get('/oauth/:provider', { config: perMinute(30), schema: { hide: true } }, async (request, reply) => {
    const { provider } = request.params as { provider: string };
    try {
      const started = await startAuthorization(ctx, providers, { providerName: provider, redirectUriInput: pagesOAuthCallbackUrl(ctx.config.publicUrl, provider) });
      // The flow is bound to this browser: the callback must come back with the state it started.
      reply.setCookie(OAUTH_STATE_COOKIE, started.state, { path: '/ui/oauth', httpOnly: true, sameSite: 'lax', secure, maxAge: OAUTH_STATE_SECONDS });
      return reply.code(303).redirect(started.authorization_url);
    } catch (err) {
      return fail(reply, { location: '/ui/sign-in', err, values: {} });
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
      const result = await completeAuthorization(ctx, providers, {
        providerName: provider,
        input: { code, state, iss, redirect_uri: pagesOAuthCallbackUrl(ctx.config.publicUrl, provider) },
        meta: requestMeta(request),
      });
      return await finish(request, reply, { result, next: '/ui/account' });
    } catch (err) {
      return fail(reply, { location: '/ui/sign-in', err, values: {} });
    }
  });

  app.post('/sign-out', { schema: { hide: true } }, async (request, reply) => {
    await endPageSession(ctx, { request, reply }, requestMeta(request));
    return redirectWithState(reply, { location: '/ui/sign-in', state: { notice: 'You have signed out.' }, secure });
  });
}

function sameString(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
