// OAuth / OpenID Connect sign-in: /auth/{provider}/authorize and /auth/{provider}/callback.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AppContext } from '../../context.js';
import { requestMeta } from '../../plugins/authenticate.js';
import { perMinute } from '../../plugins/rate-limit.js';
import { SignInResponse } from '../auth/auth.schemas.js';
import { AuthorizeQuery, AuthorizeResponse, CallbackBody, ProviderParams } from './oauth.schemas.js';
import { completeAuthorization, startAuthorization } from './oauth.service.js';
import { createOAuthProviders } from './providers.js';

export const oauthRoutes: FastifyPluginAsyncTypebox<{ ctx: AppContext }> = async (app, { ctx }) => {
  const providers = createOAuthProviders(ctx);
  const tags = ['oauth'];

  app.get('/auth/:provider/authorize', {
    // Each call stores a row; the limit keeps an anonymous caller from filling the table.
    config: perMinute(30),
    schema: { tags, params: ProviderParams, querystring: AuthorizeQuery, response: { 200: AuthorizeResponse } },
  }, async (request) => startAuthorization(ctx, providers, { providerName: request.params.provider, redirectUriInput: request.query.redirect_uri }));

  app.post('/auth/:provider/callback', {
    config: perMinute(10),
    schema: { tags, params: ProviderParams, body: CallbackBody, response: { 200: SignInResponse } },
  }, async (request) => completeAuthorization(ctx, providers, { providerName: request.params.provider, input: request.body, meta: requestMeta(request) }));
};
