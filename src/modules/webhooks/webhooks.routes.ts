// /admin/webhooks: endpoints, their delivery log, secret rotation and test events. Admins only,
// like the rest of /admin (admin.routes.ts). The command line (src/cli/webhooks.ts) calls the
// same service functions.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { AppContext } from '../../context.js';
import { currentUser, requestMeta, requireAdmin } from '../../plugins/authenticate.js';
import { queryNumber } from '../../http/request-params.js';
import type { Resolver } from './url-guard.js';
import {
  CreateWebhookBody,
  DeliveriesQuery,
  DeliveryResponse,
  toDeliveryResponse,
  toWebhookResponse,
  UpdateWebhookBody,
  WebhookParams,
  WebhookResponse,
  WebhookWithSecretResponse,
} from './webhooks.schemas.js';
import {
  createWebhook,
  deleteWebhook,
  getWebhook,
  listWebhookDeliveries,
  listWebhooks,
  rotateWebhookSecret,
  sendTestEvent,
  updateWebhook,
} from './webhooks.service.js';

export const webhookRoutes: FastifyPluginAsyncTypebox<{ ctx: AppContext; resolver?: Resolver }> = async (app, { ctx, resolver }) => {
  app.addHook('onRequest', requireAdmin(ctx));
  const deps = { ...ctx, resolver };
  const tags = ['admin', 'webhooks'];
  const security = [{ bearer: [] }];
  const NoContent = Type.Null({ description: 'No content' });

  app.post('/admin/webhooks', {
    schema: { tags, security, body: CreateWebhookBody, response: { 201: WebhookWithSecretResponse } },
  }, async (request, reply) => {
    const { endpoint, secret } = await createWebhook(deps, { adminId: currentUser(request).id, input: request.body, meta: requestMeta(request) });
    return reply.code(201).send({ ...toWebhookResponse(endpoint), secret });
  });

  app.get('/admin/webhooks', {
    schema: { tags, security, response: { 200: Type.Array(WebhookResponse) } },
  }, async () => (await listWebhooks(ctx)).map(toWebhookResponse));

  app.get('/admin/webhooks/:id', {
    schema: { tags, security, params: WebhookParams, response: { 200: WebhookResponse } },
  }, async (request) => toWebhookResponse(await getWebhook(ctx, request.params.id)));

  app.patch('/admin/webhooks/:id', {
    schema: { tags, security, params: WebhookParams, body: UpdateWebhookBody, response: { 200: WebhookResponse } },
  }, async (request) =>
    toWebhookResponse(await updateWebhook(deps, requestMeta(request), { adminId: currentUser(request).id, id: request.params.id, input: request.body })));

  app.delete('/admin/webhooks/:id', {
    schema: { tags, security, params: WebhookParams, response: { 204: NoContent } },
  }, async (request, reply) => {
    await deleteWebhook(deps, { adminId: currentUser(request).id, id: request.params.id, meta: requestMeta(request) });
    return reply.code(204).send(null);
  });

  app.get('/admin/webhooks/:id/deliveries', {
    schema: { tags, security, params: WebhookParams, querystring: DeliveriesQuery, response: { 200: Type.Array(DeliveryResponse) } },
  }, async (request) => {
    const page = { limit: queryNumber(request.query.limit), offset: queryNumber(request.query.offset) };
    return (await listWebhookDeliveries(ctx, request.params.id, page)).map(toDeliveryResponse);
  });

  app.post('/admin/webhooks/:id/rotate-secret', {
    schema: { tags, security, params: WebhookParams, response: { 200: WebhookWithSecretResponse } },
  }, async (request) => {
    const { endpoint, secret } = await rotateWebhookSecret(deps, { adminId: currentUser(request).id, id: request.params.id, meta: requestMeta(request) });
    return { ...toWebhookResponse(endpoint), secret };
  });

  app.post('/admin/webhooks/:id/test', {
    schema: { tags, security, params: WebhookParams, response: { 202: DeliveryResponse } },
  }, async (request, reply) => {
    const delivery = await sendTestEvent(deps, { adminId: currentUser(request).id, id: request.params.id, meta: requestMeta(request) });
    return reply.code(202).send(toDeliveryResponse(delivery));
  });
};
