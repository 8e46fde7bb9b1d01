// Enterprise SSO on the hosted pages (API.md: "their sign-in page asks for the email first and
// sends SSO domains to their identity provider"). The sign-in form's first step sends an email
// whose domain an account verified and connected to its identity provider to that provider
// (SAML or OIDC), through the API's one SSO path with the pages' own callback as its
// redirect_uri; the provider comes back to Keyhold's ACS or OIDC callback, which sends the
// browser here with the single-use code. The flow is bound to this browser by a cookie that
// holds its state (and where to go after), as the pages' OAuth sign-in is.
//
// The form's post does not redirect to the provider itself: the pages' Content-Security-Policy
// has `form-action 'self'`, which browsers apply to a form's redirects too, and the provider's
// origin is not known when the page is served. The post goes to /ui/sso/continue, a page of
// ours that names the provider and moves on by a zero-delay refresh (a new navigation, not the
// form's), with a link for a browser that does not.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { Errors, isCatalogued } from '../../lib/errors.js';
import { sameSecret } from '../../lib/random.js';
import { requestMeta } from '../../plugins/authenticate.js';
import { perMinute } from '../../plugins/rate-limit.js';
import { redeemCode } from '../sso/sso-sign-in.js';
import { pagesSsoCallbackUrl } from '../sso/connection-config.js';
import { beginSso } from '../sso/sso.service.js';
import { formField } from './form-validation.js';
import type { PageContext } from './page-context.js';
import { redirectWithError, redirectWithState } from './page-state.js';
import { safeNext, signInFinisher } from './sign-in-finish.js';

const SSO_STATE_COOKIE = 'keyhold_sso_state';
const SSO_GO_COOKIE = 'keyhold_sso_go';
/** As long as the stored request it belongs to (sso/saml.ts REQUEST_TTL_MS is 10 minutes). */
const SSO_STATE_SECONDS = 10 * 60;

/** Why the identity provider's answer was refused, for a person (the ACS or callback sent `error`). */
const REFUSALS: Record<string, string> = {
  sso_not_a_member: 'Your organisation signed you in, but you are not a member of its account here yet. Ask your administrator to invite you.',
  sso_domain_not_verified: 'Your organisation signed you in with an email address outside its verified domains.',
  transfer_ownership_first: 'You own an account with other members here: hand it over to one of them before signing in through your organisation.',
  inactive_user: 'This account is deactivated.',
};
const REFUSED = 'Single sign-on did not complete. Try again, or ask your administrator.';

const stateCookie = (secure: boolean) => ({ path: '/ui/sso', httpOnly: true, sameSite: 'lax', secure }) as const;

/**
 * Sends the browser to the identity provider serving `email`'s domain and answers with that
 * redirect; undefined when no connection serves the domain (the password step follows).
 * `next`: where the browser goes after signing in.
 */
export async function redirectToIdentityProvider(pages: PageContext, reply: FastifyReply, { email, next }: { email: string; next: string }): Promise<FastifyReply | undefined> {
  let started: { authorization_url: string; state: string };
  try {
    started = await beginSso(pages.ctx, { email, redirect_uri: pagesSsoCallbackUrl(pages.ctx.config) });
  } catch (err) {
    if (isCatalogued(err, Errors.ssoNotConfigured)) return undefined;
    throw err;
  }
  // The state is base64url and `next` a /ui/ path: neither holds a '.'.
  reply.setCookie(SSO_STATE_COOKIE, `${started.state}.${next}`, { ...stateCookie(pages.secure), maxAge: SSO_STATE_SECONDS });
  reply.setCookie(SSO_GO_COOKIE, started.authorization_url, { ...stateCookie(pages.secure), maxAge: SSO_STATE_SECONDS });
  return reply.code(303).redirect('/ui/sso/continue');
}

export async function ssoPages(app: FastifyInstance, pages: PageContext): Promise<void> {
  const { ctx, secure, render } = pages;
  const { finish } = signInFinisher(pages);

  app.get('/sso/continue', { schema: { hide: true } }, async (request, reply) => {
    const target = request.cookies[SSO_GO_COOKIE];
    reply.clearCookie(SSO_GO_COOKIE, stateCookie(secure));
    // Only an address this browser was given by the post above (http or https).
    if (!target || !/^https?:\/\//.test(target) || !URL.canParse(target)) return reply.code(303).redirect('/ui/sign-in');
    return render(request, reply, { view: 'sso-continue', data: { title: 'Single sign-on', refreshTo: target, host: new URL(target).host } });
  });

  app.get('/sso/callback', { config: perMinute(30), schema: { hide: true } }, async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    const [expected = '', next = ''] = (request.cookies[SSO_STATE_COOKIE] ?? '').split('.');
    reply.clearCookie(SSO_STATE_COOKIE, stateCookie(secure));
    const state = formField(query, 'state');
    const code = formField(query, 'code');
    const refused = formField(query, 'error');
    if (refused && state && expected && sameSecret(state, expected)) {
      return redirectWithState(reply, { location: '/ui/sign-in', state: { message: REFUSALS[refused] ?? REFUSED }, secure });
    }
    try {
      // A code that reaches another browser than the one that started the flow is not redeemed.
      if (!state || !code || !expected || !sameSecret(state, expected)) throw Errors.invalidSsoCode();
      return await finish(request, reply, { result: await redeemCode(ctx, { code, state }, requestMeta(request)), next: safeNext(next) });
    } catch (err) {
      return redirectWithError(reply, { location: '/ui/sign-in', err, state: {}, secure });
    }
  });
}
