// The public SSO sign-in routes: POST /auth/sso/start, the SAML ACS and SP metadata, the OIDC
// callback, and POST /auth/sso/callback (the single-use code → tokens).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { AppContext } from '../../context.js';
import { Errors } from '../../lib/errors.js';
import { requestMeta } from '../../plugins/authenticate.js';
import { perMinute } from '../../plugins/rate-limit.js';
import { SignInResponse } from '../auth/auth.schemas.js';
import { samlSpMetadata } from './saml.js';
import { AcsBody, ConnectionIdParams, OidcCallbackQuery, SsoCallbackBody, StartBody, StartResponse } from './sso.schemas.js';
import { acceptOidcCallback, acceptSamlResponse, startSso } from './sso.service.js';
import { redeemCode } from './sso-sign-in.js';
import { findConnection } from './sso.repo.js';

const Redirect = Type.Null({ description: 'See Other: to redirect_uri?code=…&state=…' });

export const ssoRoutes: FastifyPluginAsyncTypebox<{ ctx: AppContext }> = async (app, { ctx }) => {
  const tags = ['sso'];

  app.post('/auth/sso/start', {
    // Each call stores a request row: bounded per address.
    config: perMinute(30),
    schema: { tags, body: StartBody, response: { 200: StartResponse } },
  }, async (request) => startSso(ctx, request.body));

  app.get('/auth/sso/saml/:id/metadata', {
    schema: { tags, params: ConnectionIdParams, produces: ['application/samlmetadata+xml'] },
  }, async (request, reply) => {
    const row = await findConnection(ctx.db, request.params.id);
    if (!row || row.type !== 'saml') throw Errors.ssoConnectionNotFound();
    return reply.type('application/samlmetadata+xml').send(samlSpMetadata(ctx, row));
  });

  app.post('/auth/sso/saml/:id/acs', {
    config: perMinute(60),
    bodyLimit: 320 * 1024,
    // The identity provider's browser POST is a form (SAML HTTP-POST binding).
    schema: { tags, consumes: ['application/x-www-form-urlencoded'], params: ConnectionIdParams, body: AcsBody, response: { 303: Redirect } },
  }, async (request, reply) => {
    const target = await acceptSamlResponse(ctx, { connectionId: request.params.id, samlResponse: request.body.SAMLResponse, meta: requestMeta(request) });
    return reply.code(303).header('location', target).header('cache-control', 'no-store').send(null);
  });

  app.get('/auth/sso/oidc/callback', {
    config: perMinute(60),
    schema: { tags, querystring: OidcCallbackQuery, response: { 303: Redirect } },
  }, async (request, reply) => {
    const { code, state, iss } = request.query;
    if (!code || !state) throw Errors.ssoFailed();
    const target = await acceptOidcCallback(ctx, { code, state, ...(iss !== undefined ? { iss } : {}) }, requestMeta(request));
    return reply.code(303).header('location', target).header('cache-control', 'no-store').send(null);
  });

  app.post('/auth/sso/callback', {
    config: perMinute(30),
    schema: { tags, body: SsoCallbackBody, response: { 200: SignInResponse } },
  }, async (request) => redeemCode(ctx, request.body, requestMeta(request)));
};
