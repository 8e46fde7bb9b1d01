// /accounts/me/scim-tokens and /accounts/me/scim-settings (owner or admin of the account).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { AppContext } from '../../context.js';
import { currentUser, requestMeta, requireUser } from '../../plugins/authenticate.js';
import {
  CreatedScimTokenResponse,
  CreateScimTokenBody,
  ScimSettings,
  ScimTokenParams,
  ScimTokenResponse,
  toScimTokenResponse,
} from './scim-admin.schemas.js';
import { createScimToken, getScimSettings, listTokens, putScimSettings, revokeScimToken } from './scim-tokens.service.js';

export const scimAdminRoutes: FastifyPluginAsyncTypebox<{ ctx: AppContext }> = async (app, { ctx }) => {
  app.addHook('onRequest', requireUser(ctx));
  const tags = ['scim'];
  const security = [{ bearer: [] }];

  app.post('/accounts/me/scim-tokens', {
    schema: { tags, security, body: Type.Optional(CreateScimTokenBody), response: { 201: CreatedScimTokenResponse } },
  }, async (request, reply) => {
    const created = await createScimToken(ctx, { actor: currentUser(request), input: request.body ?? {}, meta: requestMeta(request) });
    return reply.code(201).send({ id: created.id, token: created.token, description: created.description, created_at: created.created_at.toISOString() });
  });

  app.get('/accounts/me/scim-tokens', {
    schema: { tags, security, response: { 200: Type.Array(ScimTokenResponse) } },
  }, async (request) => (await listTokens(ctx, currentUser(request))).map(toScimTokenResponse));

  app.delete('/accounts/me/scim-tokens/:id', {
    schema: { tags, security, params: ScimTokenParams, response: { 204: Type.Null({ description: 'No content' }) } },
  }, async (request, reply) => {
    await revokeScimToken(ctx, { actor: currentUser(request), id: request.params.id, meta: requestMeta(request) });
    return reply.code(204).send(null);
  });

  app.get('/accounts/me/scim-settings', {
    schema: { tags, security, response: { 200: ScimSettings } },
  }, async (request) => getScimSettings(ctx, currentUser(request)));

  app.put('/accounts/me/scim-settings', {
    schema: { tags, security, body: ScimSettings, response: { 200: ScimSettings } },
  }, async (request) => putScimSettings(ctx, { actor: currentUser(request), groupRoles: request.body.group_roles, meta: requestMeta(request) }));
};
