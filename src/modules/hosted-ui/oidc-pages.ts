// The OpenID Provider's interaction pages (/ui/authorize/{uid}): where an authorization that
// needs a person lands. The browser's hosted-pages sign-in is the provider's login: a browser
// already signed in is not asked again (single sign-on across the product's apps), one that is
// not goes through /ui/sign-in (and /ui/mfa), the one sign-in path of the pages, and comes back
// here. Then consent: skipped for first-party clients and for scopes the user granted before.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { requestMeta } from '../../plugins/authenticate.js';
import { consentCovers, rememberConsent, touchApp } from '../oidc-provider/apps.service.js';
import type { ProviderHandle } from '../oidc-provider/oidc.plugin.js';
import type { InteractionDetails, OidcProvider, ProviderClient } from '../oidc-provider/provider-types.js';
import { findSessionAssurance } from '../sessions/device-sessions.repo.js';
import { formField } from './form-validation.js';
import type { PageContext } from './page-context.js';
import type { PageSessionUser } from './page-sessions.repo.js';

const SCOPE_LABELS: Record<string, string> = {
  openid: 'Your user id',
  profile: 'Your name, time zone and when your profile changed',
  email: 'Your email address and whether it is verified',
  account: 'Your account, your role in it and your platform role',
  offline_access: 'Access while you are not using the app',
};

const UID = /^[\w-]{10,64}$/;

export async function oidcPages(app: FastifyInstance, pages: PageContext, handle: ProviderHandle): Promise<void> {
  const { ctx, render } = pages;

  /** The interaction of this browser, or an error page (no such address; expired, or another browser's). */
  async function load(request: FastifyRequest, reply: FastifyReply): Promise<{ uid: string; provider: OidcProvider; details: InteractionDetails; client: ProviderClient } | undefined> {
    const { uid } = request.params as { uid: string };
    if (!UID.test(uid)) {
      await render(request, reply, { view: 'error', data: { title: 'Page not found', message: 'There is no page at this address.' }, status: 404 });
      return undefined;
    }
    const provider = await handle.current();
    try {
      const details = await provider.interactionDetails(request.raw, reply.raw);
      const client = await provider.Client.find(details.params.client_id);
      if (details.uid === uid && client) return { uid, provider, details, client };
    } catch {
      // The interaction cookie is missing or the interaction expired: handled below.
    }
    await render(request, reply, { view: 'error', data: { title: 'Sign-in expired', message: 'This sign-in request has expired or belongs to another browser. Go back to the app and start again.' }, status: 400 });
    return undefined;
  }

  // Every result names the Keyhold session behind the pages' cookie: the provider gives its
  // session a new id at each resume, and oidc.plugin.ts links the new one (session-end.ts).
  const finish = async (request: FastifyRequest, reply: FastifyReply, { provider, result }: { provider: OidcProvider; result: unknown }) => {
    const location = await provider.interactionResult(request.raw, reply.raw, result, { mergeWithLastSubmission: false });
    return reply.code(303).redirect(location);
  };

  // login_hint goes to the sign-in page, which prefills the email field with it; `again` asks for a new sign-in.
  const signIn = (reply: FastifyReply, { uid, again, loginHint }: { uid: string; again: boolean; loginHint?: string }) =>
    reply.code(303).redirect(`/ui/sign-in?${new URLSearchParams({ next: `/ui/authorize/${uid}`, ...(again ? { again: '1' } : {}), ...(loginHint ? { login_hint: loginHint } : {}) })}`);

  app.get('/authorize/:uid', { schema: { hide: true } }, async (request, reply) => {
    const loaded = await load(request, reply);
    if (!loaded) return reply;
    const { uid, provider, details, client } = loaded;
    const user = request.pageUser;
    const clientName = String(client.clientName ?? client.clientId);

    if (details.prompt.name === 'login') {
      const loginHint = typeof details.params.login_hint === 'string' ? details.params.login_hint : undefined;
      if (!user) return signIn(reply, { uid, again: false, loginHint });
      const session = await findSessionAssurance(ctx.db, user.page_session_id);
      if (!session) return signIn(reply, { uid, again: true, loginHint });
      if (!freshEnough(details, session.created_at, ctx.clock.now())) return signIn(reply, { uid, again: true, loginHint });
      const needsAal2 = String(details.params.acr_values ?? '').split(' ').includes('aal2') || client.keyhold_require_mfa === true;
      if (needsAal2 && session.aal !== 'aal2') {
        // An enrolled user signs in again and passes the second factor; anyone else sets one up first.
        if (user.mfa_enabled) return signIn(reply, { uid, again: true, loginHint });
        return render(request, reply, { view: 'mfa-required', data: { title: 'Two-step verification required', clientName, uid } });
      }
      const result = {
        login: { accountId: user.id, acr: session.aal, amr: session.amr, ts: Math.floor(session.created_at.getTime() / 1000), remember: true },
        keyhold: { sessionId: user.page_session_id },
      };
      return finish(request, reply, { provider, result });
    }

    if (details.prompt.name === 'consent') {
      if (!user || user.id !== details.session?.accountId) return signIn(reply, { uid, again: Boolean(user) });
      const scopes = requestedScopes(details);
      // prompt=consent asks for the page even where consent is remembered (not of a first-party app).
      const asked = details.prompt.reasons.includes('consent_prompt');
      if (client.keyhold_first_party === true || (!asked && (await consentCovers(ctx, { userId: user.id, clientId: client.clientId, scopes })))) {
        const grantId = await grantAll(provider, details, user);
        await touchApp(ctx, user.id, client.clientId);
        return finish(request, reply, { provider, result: { consent: { grantId }, keyhold: { sessionId: user.page_session_id } } });
      }
      return render(request, reply, { view: 'consent', data: {
        title: `Allow ${clientName}?`,
        clientName,
        logoUri: typeof client.logoUri === 'string' ? client.logoUri : undefined,
        email: user.email,
        uid,
        scopes: scopes.map((scope) => ({ label: SCOPE_LABELS[scope] ?? scope })),
      } });
    }
    return finish(request, reply, { provider, result: { error: 'access_denied', error_description: 'interaction not supported' } });
  });

  app.post('/authorize/:uid', { schema: { hide: true } }, async (request, reply) => {
    const loaded = await load(request, reply);
    if (!loaded) return reply;
    const { uid, provider, details, client } = loaded;
    const user = request.pageUser;
    if (formField(request.body, 'decision') !== 'allow') {
      return finish(request, reply, { provider, result: { error: 'access_denied', error_description: 'the user denied the request' } });
    }
    if (details.prompt.name !== 'consent' || !user || user.id !== details.session?.accountId) return reply.code(303).redirect(`/ui/authorize/${uid}`);
    const grantId = await grantAll(provider, details, user);
    await rememberConsent(ctx, { userId: user.id, clientId: client.clientId, scopes: requestedScopes(details), grantId }, requestMeta(request));
    return finish(request, reply, { provider, result: { consent: { grantId }, keyhold: { sessionId: user.page_session_id } } });
  });
}

/**
 * Whether the pages' sign-in serves this authorization. prompt=login wants a sign-in made for
 * this request; max_age one made within max_age seconds (the provider asks for max_age whenever
 * it has no session of its own, so its presence alone does not mean the sign-in is too old).
 */
function freshEnough(details: InteractionDetails, signedIn: Date, now: Date): boolean {
  const signedInAt = signedIn.getTime() / 1000;
  if (signedInAt >= (details.iat ?? 0)) return true;
  const { reasons } = details.prompt;
  if (reasons.includes('login_prompt')) return false;
  if (!reasons.includes('max_age')) return true;
  const maxAge = Number(details.params.max_age);
  return Number.isFinite(maxAge) && signedInAt >= now.getTime() / 1000 - maxAge;
}

function requestedScopes(details: InteractionDetails): string[] {
  return String(details.params.scope ?? '').split(' ').filter(Boolean);
}

/** Grants what the request asks for (the provider lists what is missing from the grant). */
async function grantAll(provider: OidcProvider, details: InteractionDetails, user: PageSessionUser): Promise<string> {
  const grant = (details.grantId ? await provider.Grant.find(details.grantId) : undefined) ?? new provider.Grant({ accountId: user.id, clientId: details.params.client_id });
  const missing = details.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };
  if (missing.missingOIDCScope?.length) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims?.length) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [resource, scopes] of Object.entries(missing.missingResourceScopes ?? {})) grant.addResourceScope(resource, scopes.join(' '));
  return grant.save();
}
