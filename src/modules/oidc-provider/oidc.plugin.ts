// Mounts the OpenID Provider: every request under /oidc/ and the discovery document are handed
// to oidc-provider's own (Koa) request handler, untouched by Fastify's body parsers (the
// provider reads the body itself). The provider signs with the one key set (modules/keys) and is
// built again when it moves, so a rotation or revocation reaches the provider's signing as it
// reaches first-party tokens.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../../context.js';
import { randomToken } from '../../lib/random.js';
import { insertSecretIfAbsent, readSecret } from '../keys/app-secrets.repo.js';
import type { KeySet } from '../keys/key-set.js';
import { signOutSession } from '../sessions/sessions.service.js';
import { findProviderSessionLink, linkProviderSession } from './oidc-models.repo.js';
import { createProvider, OIDC_PREFIX } from './provider.js';
import type { KoaLikeContext, OidcProvider, ProviderPages } from './provider-types.js';

export interface ProviderHandle {
  /** The provider for the key set in force (built again after a rotation). */
  current(): Promise<OidcProvider>;
}

const COOKIE_KEY_NAME = 'oidc_cookie_key';

/** The key that signs the provider's cookies: made once, kept sealed in app_secrets, shared by every instance. */
async function cookieKeys(ctx: Pick<AppContext, 'db' | 'secrets'>): Promise<string[]> {
  await insertSecretIfAbsent(ctx.db, COOKIE_KEY_NAME, ctx.secrets.seal(randomToken(32), COOKIE_KEY_NAME));
  return [ctx.secrets.open(await readSecret(ctx.db, COOKIE_KEY_NAME), COOKIE_KEY_NAME)];
}

export async function createProviderHandle(ctx: AppContext, keySet: Pick<KeySet, 'generation' | 'providerKeys'>, pages: ProviderPages): Promise<ProviderHandle> {
  const keys = await cookieKeys(ctx);
  const build = async () => {
    const provider = await createProvider({ ...ctx, keys: keySet.providerKeys(), cookieKeys: keys, pages });
    provider.use(sessionLinks(ctx));
    return provider;
  };
  let built = { generation: keySet.generation, provider: await build() };
  let rebuilding: Promise<OidcProvider> | undefined;
  return {
    async current() {
      const generation = keySet.generation;
      if (generation === built.generation) return built.provider;
      rebuilding ??= build()
        .then((provider) => {
          built = { generation, provider };
          return provider;
        })
        .finally(() => (rebuilding = undefined));
      return rebuilding;
    },
  };
}

/**
 * Keyhold's part in the provider's requests:
 * - when an authorization resumes after the hosted pages signed the user in, the provider
 *   session is linked to the Keyhold session behind the pages' cookie (so ending that session
 *   ends this one and sends back-channel logout, session-end.ts);
 * - when a user confirms RP-initiated logout, the Keyhold session behind the provider session
 *   ends too (and with it the hosted pages' sign-in, and the other apps' sessions).
 */
function sessionLinks(ctx: AppContext) {
  const endSessionConfirm = `${OIDC_PREFIX}/session/end/confirm`;
  return async (koa: KoaLikeContext, next: () => Promise<void>): Promise<void> => {
    // Read before the provider destroys its session.
    const endingCookie = koa.method === 'POST' && koa.path === endSessionConfirm ? koa.cookies.get('_session', { signed: true }) : undefined;
    const ending = endingCookie ? await findProviderSessionLink(ctx.db, endingCookie) : undefined;
    await next();
    const oidc = koa.oidc;
    const sessionId = oidc?.result?.keyhold?.sessionId;
    // 'device_resume': a device flow's sign-in (RFC 8628) resumes at its own route.
    if ((oidc?.route === 'resume' || oidc?.route === 'device_resume') && typeof sessionId === 'string' && oidc.session?.jti && oidc.session.accountId) {
      await linkProviderSession(ctx.db, oidc.session.jti, { userId: oidc.session.accountId, sessionId });
    }
    if (ending && koa.status >= 300 && koa.status < 400) {
      await signOutSession(ctx, { session: ending, meta: { ip: null, userAgent: null }, details: { via: 'oidc_logout' } });
    }
  };
}

export const oidcProviderPlugin: FastifyPluginAsync<{ ctx: AppContext; handle: ProviderHandle }> = async (app, { handle }) => {
  // The provider reads request bodies itself: no parser here consumes one.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));
  // Koa composes its middleware in callback(): once per provider, not per request.
  const handlers = new WeakMap<OidcProvider, ReturnType<OidcProvider['callback']>>();
  const pass = async (request: FastifyRequest, reply: FastifyReply) => {
    const provider = await handle.current();
    let handler = handlers.get(provider);
    if (!handler) handlers.set(provider, (handler = provider.callback()));
    reply.hijack();
    handler(request.raw, reply.raw);
  };
  const hidden = { schema: { hide: true } };
  app.all(`${OIDC_PREFIX}/*`, hidden, pass);
  app.get('/.well-known/openid-configuration', hidden, pass);
};

