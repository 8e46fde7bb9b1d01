// /admin/oauth-clients (platform admins) and /auth/me/apps (the signed-in user), registered
// only with OIDC_PROVIDER_ENABLED. Thin: the rules are in clients.service.ts and apps.service.ts.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { AppContext } from '../../context.js';
import { currentUser, requestMeta, requireAdmin, requireUser } from '../../plugins/authenticate.js';
import { listApps, revokeApp } from './apps.service.js';
import { AppParams, AppResponse, ClientParams, ClientResponse, ClientWithSecretResponse, CreateClientBody, toClientResponse, UpdateClientBody } from './clients.schemas.js';
import { createClient, deleteClient, getClient, listClients, rotateClientSecret, updateClient } from './clients.service.js';

const NoContent = Type.Null({ description: 'No content' });
const security = [{ bearer: [] }];

export const oauthClientRoutes: FastifyPluginAsyncTypebox<{ ctx: AppContext }> = async (app, { ctx }) => {
  app.addHook('onRequest', requireAdmin(ctx));
  const tags = ['admin', 'oidc-provider'];

  app.post('/admin/oauth-clients', { schema: { tags, security, body: CreateClientBody, response: { 201: ClientWithSecretResponse } } }, async (request, reply) => {
    const { client, secret } = await createClient(ctx, { adminId: currentUser(request).id, input: request.body, meta: requestMeta(request) });
    return reply.code(201).send({ ...toClientResponse(client), ...(secret ? { client_secret: secret } : {}) });
  });

  app.get('/admin/oauth-clients', { schema: { tags, security, response: { 200: Type.Array(ClientResponse) } } }, async () => (await listClients(ctx)).map(toClientResponse));

  app.get('/admin/oauth-clients/:client_id', { schema: { tags, security, params: ClientParams, response: { 200: ClientResponse } } }, async (request) =>
    toClientResponse(await getClient(ctx, request.params.client_id)));

  app.patch('/admin/oauth-clients/:client_id', { schema: { tags, security, params: ClientParams, body: UpdateClientBody, response: { 200: ClientResponse } } }, async (request) =>
    toClientResponse(await updateClient(ctx, { adminId: currentUser(request).id, clientId: request.params.client_id, input: request.body, meta: requestMeta(request) })));

  app.delete('/admin/oauth-clients/:client_id', { schema: { tags, security, params: ClientParams, response: { 204: NoContent } } }, async (request, reply) => {
    await deleteClient(ctx, { adminId: currentUser(request).id, clientId: request.params.client_id, meta: requestMeta(request) });
    return reply.code(204).send(null);
  });

  app.post('/admin/oauth-clients/:client_id/rotate-secret', { schema: { tags, security, params: ClientParams, response: { 200: ClientWithSecretResponse } } }, async (request) => {
    const { client, secret } = await rotateClientSecret(ctx, { adminId: currentUser(request).id, clientId: request.params.client_id, meta: requestMeta(request) });
    return { ...toClientResponse(client), client_secret: secret };
  });
};

export const myAppsRoutes: FastifyPluginAsyncTypebox<{ ctx: AppContext }> = async (app, { ctx }) => {
  app.addHook('onRequest', requireUser(ctx));
  const tags = ['auth', 'oidc-provider'];

  app.get('/auth/me/apps', { schema: { tags, security, response: { 200: Type.Array(AppResponse) } } }, async (request) => listApps(ctx, currentUser(request).id));

  app.delete('/auth/me/apps/:client_id', { schema: { tags, security, params: AppParams, response: { 204: NoContent } } }, async (request, reply) => {
    await revokeApp(ctx, { userId: currentUser(request).id, clientId: request.params.client_id, meta: requestMeta(request) });
    return reply.code(204).send(null);
  });
};
