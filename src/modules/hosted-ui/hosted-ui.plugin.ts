// The hosted pages under /ui/ (HOSTED_UI_ENABLED; registered with prefix /ui): server-rendered with Eta, one stylesheet,
// no inline script or style, CSRF tokens on every form, and a browser session bound to a
// Keyhold session (page-session.ts). Pages call the API's service functions directly.
// The consoles (modules/console, modules/org-console) are built on this module and come in as
// `consoles` (src/hosted-ui-wiring.ts registers the plugin with them), so it imports neither.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import cookie from '@fastify/cookie';
import csrf from '@fastify/csrf-protection';
import fastifyStatic from '@fastify/static';
import view from '@fastify/view';
import { Eta } from 'eta';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { AppContext } from '../../context.js';
import { replyBody } from '../../plugins/errors.js';
import { accountPages } from './account-pages.js';
import type { PageContext, PageGroup, RenderPage } from './page-context.js';
import { brandStylesheet } from './brand.js';
import { pagePolicy } from './page-policy.js';
import { cookieIsSecure, loadPageSession } from './page-session.js';
import { takeState, type PageState } from './page-state.js';
import { isJsonRequest } from './json-steps.js';
import { pageRefusal, pageText } from './page-text.js';
import { passkeysOffered, passkeySignInPages } from './passkey-pages.js';
import { recoveryPages } from './recovery-pages.js';
import { signInPages } from './sign-in-pages.js';
import { oidcPages } from './oidc-pages.js';
import { ssoPages } from './sso-pages.js';
import type { ProviderHandle } from '../oidc-provider/oidc.plugin.js';
import { interactionRedirectTarget } from '../oidc-provider/interactions.js';

/** The CSP source of the redirect URI of the authorization this page belongs to, if any. */
async function authorizationFormTarget(ctx: AppContext, request: FastifyRequest): Promise<string | undefined> {
  const path = request.url.split('?')[0]!;
  const next = (request.query as Record<string, unknown> | undefined)?.next;
  const uid = /^\/ui\/authorize\/([\w-]+)$/.exec(path)?.[1] ?? (typeof next === 'string' ? /^\/ui\/authorize\/([\w-]+)$/.exec(next)?.[1] : undefined);
  return uid ? interactionRedirectTarget(ctx, uid) : undefined;
}

/** Templates and assets ship beside src/ and dist/ alike (../../../ is the package root from both). */
export const VIEWS_DIR = fileURLToPath(new URL('../../../views/hosted-ui/', import.meta.url));
/** Eta's root: the hosted pages (views/hosted-ui) and the console (views/console) include from both. */
const VIEWS_ROOT = fileURLToPath(new URL('../../../views/', import.meta.url));

const WEBAUTHN_BROWSER_BUNDLE = join(dirname(createRequire(import.meta.url).resolve('@simplewebauthn/browser')), '../dist/bundle/index.umd.min.js');

export interface HostedUiOptions {
  ctx: AppContext;
  oidcProvider?: ProviderHandle;
  /** Page groups registered after the hosted pages' own, in this order (the consoles). */
  consoles?: readonly PageGroup[];
}

export const hostedUiPlugin: FastifyPluginAsync<HostedUiOptions> = async (app, { ctx, oidcProvider, consoles = [] }) => {
  const secure = cookieIsSecure(ctx.config.publicUrl);
  const ui = ctx.config.hostedUi;
  const contentSecurityPolicy = pagePolicy(ui.logoUrl);

  await app.register(cookie);
  await app.register(csrf, {
    sessionPlugin: '@fastify/cookie',
    cookieKey: 'keyhold_csrf',
    cookieOpts: { path: '/ui', httpOnly: true, sameSite: 'lax', secure, signed: false },
    getToken: (request) => (request.body as Record<string, unknown> | undefined)?._csrf as string | undefined,
  });
  await app.register(view, {
    engine: { eta: new Eta({ views: VIEWS_ROOT, cache: true, autoEscape: true }) },
    root: VIEWS_ROOT,
    production: true,
  });
  await app.register(fastifyStatic, {
    root: `${VIEWS_DIR}assets`,
    prefix: '/assets/',
    decorateReply: false,
    cacheControl: false,
    index: false,
    list: false,
  });

  // After the app-wide security headers: pages are HTML, with a policy of their own. A page
  // that is part of an OpenID authorization (its address or its `next`) lets its form's
  // redirects go on to that client's redirect URI, which form-action would otherwise stop.
  app.addHook('onRequest', async (request, reply) => {
    const formTarget = oidcProvider ? await authorizationFormTarget(ctx, request) : undefined;
    reply.header('content-security-policy', formTarget ? pagePolicy(ui.logoUrl, formTarget) : contentSecurityPolicy);
    if (request.url.startsWith('/ui/assets/')) reply.header('cache-control', 'public, max-age=3600');
    else reply.header('cache-control', 'no-store');
  });
  // Every form post carries the token of its page (checked after the body is parsed).
  app.addHook('preHandler', (request, reply, done) => {
    if (request.method !== 'POST') return done();
    app.csrfProtection(request, reply, done);
  });
  app.addHook('onRequest', loadPageSession(ctx));

  const brandCss = brandStylesheet(ui.primaryColor);
  app.get('/assets/brand.css', { schema: { hide: true } }, async (_request, reply) =>
    reply.type('text/css; charset=utf-8').send(brandCss),
  );
  // The browser half of @simplewebauthn (its UMD bundle, the global SimpleWebAuthnBrowser):
  // passkey.js runs the ceremonies with it, so they work in every browser with WebAuthn and
  // with password-manager extensions that stand in for navigator.credentials.
  const webauthnBundle = await readFile(WEBAUTHN_BROWSER_BUNDLE);
  app.get('/assets/webauthn.js', { schema: { hide: true } }, async (_request, reply) =>
    reply.type('text/javascript; charset=utf-8').send(webauthnBundle),
  );

  const render: RenderPage = async (request, reply, { view: viewName, data, status = 200 }) => {
    const state: PageState = request.method === 'GET' ? takeState(request, reply, secure) : {};
    // A bare name is a hosted page's (views/hosted-ui); `console/…` is a console page's.
    const html = await reply.viewAsync(`${viewName.includes('/') ? viewName : `hosted-ui/${viewName}`}.eta`, {
      brand: { name: ui.brandName, logoUrl: ui.logoUrl },
      user: request.pageUser,
      csrfToken: reply.generateCsrf(),
      state,
      ...data,
    });
    return reply.code(status).type('text/html; charset=utf-8').send(html);
  };
  const pages: PageContext = { ctx, render, secure, passkeys: passkeysOffered(ctx) };

  // Refusals (a CSRF failure, a rate limit, a malformed body, a service's AppError) get a page,
  // or JSON for the passkey script's steps; the words come from one table of codes (page-text.ts).
  app.setErrorHandler(async (err: Error, request, reply) => {
    const refusal = pageRefusal(err);
    const status = refusal.statusCode;
    if (status >= 500) request.log.error({ err }, 'hosted page failed');
    const { message } = pageText(refusal);
    reply.headers(refusal.headers);
    // The passkey steps' script reads JSON.
    if (isJsonRequest(request)) return reply.code(status).send(replyBody(refusal, message));
    return render(request, reply, { view: 'error', data: { title: status === 429 ? 'Too many attempts' : 'Something went wrong', message }, status });
  });
  app.setNotFoundHandler(async (request, reply) => render(request, reply, { view: 'error', data: { title: 'Page not found', message: 'There is no page at this address.' }, status: 404 }));

  app.get('/', { schema: { hide: true } }, async (request, reply) => reply.redirect(request.pageUser ? '/ui/account' : '/ui/sign-in'));
  await signInPages(app, pages);
  await passkeySignInPages(app, pages);
  await recoveryPages(app, pages);
  await ssoPages(app, pages);
  await accountPages(app, pages);
  if (oidcProvider) await oidcPages(app, pages, oidcProvider);
  for (const group of consoles) await group(app, pages);

};
