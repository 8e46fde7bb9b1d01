// GET /.well-known/jwks.json and /.well-known/openid-configuration (root, no prefix): what a
// service needs to verify Keyhold's access tokens by itself.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AppContext } from '../../context.js';
import { publishedKeys } from './keys.service.js';
import { JwksSchema, OpenIdConfigurationSchema } from './keys.schemas.js';

/** Verifiers may cache both documents this long; a new `next` key is published a rotation
 *  before it signs, so a cached JWKS always knows the key of every token it will see. */
const CACHE_CONTROL = 'public, max-age=300';

export const wellKnownRoutes: FastifyPluginAsyncTypebox<{ ctx: AppContext }> = async (app, { ctx }) => {
  const { config } = ctx;
  const jwksUri = `${config.publicUrl}/.well-known/jwks.json`;

  app.get(
    '/.well-known/jwks.json',
    { schema: { tags: ['keys'], summary: 'Public keys that verify Keyhold tokens (JWKS)', response: { 200: JwksSchema } } },
    async (_request, reply) => {
      // Read from the database, not this instance's key ring: a revoked key leaves at once,
      // everywhere. In HS256 mode nothing can be published.
      const keys = config.jwtAlgorithm === 'HS256' ? [] : await publishedKeys(ctx);
      reply.header('cache-control', CACHE_CONTROL);
      return { keys };
    },
  );

  // With the OpenID Provider on, discovery is the provider's (modules/oidc-provider).
  if (config.oidcProvider.enabled) return;
  app.get(
    '/.well-known/openid-configuration',
    { schema: { tags: ['keys'], summary: 'Issuer metadata for token verifiers', response: { 200: OpenIdConfigurationSchema } } },
    async (_request, reply) => {
      reply.header('cache-control', CACHE_CONTROL);
      return {
        issuer: config.jwtIssuer,
        jwks_uri: jwksUri,
        token_endpoint: `${config.publicUrl}${config.apiPrefix}/auth/login`,
        grant_types_supported: ['password'],
        response_types_supported: ['token'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: [config.jwtAlgorithm],
        token_endpoint_auth_methods_supported: ['none'],
      };
    },
  );
};
