// /accounts/me/sso-connections, /accounts/me/sso-settings; the same under
// /admin/accounts/{account_id}/ for platform admins.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import type { AppContext } from '../../context.js';
import { Uuid } from '../../http/schema-types.js';
import { currentUser, requestMeta, requireAdmin, requireUser } from '../../plugins/authenticate.js';
import { adminAccountScope, ownAccountScope, type AccountScope } from '../accounts/account-scope.js';
import {
  ConnectionParams,
  ConnectionResponse,
  CreateConnectionBody,
  SsoSettingsBody,
  SsoSettingsResponse,
  toConnectionResponse,
  UpdateConnectionBody,
} from './connections.schemas.js';
import { changeConnection, createConnection, getConnection, getPolicy, listAccountConnections, removeConnection, setPolicy } from './connections.service.js';

const NoContent = Type.Null({ description: 'No content' });
const security = [{ bearer: [] }];
type ScopeOf = (request: FastifyRequest) => Promise<AccountScope>;

/** `base`: the path the routes hang under; `scopeOf`: whose connections a request may touch. */
function routes(ctx: AppContext, { base, scopeOf, tags }: { base: string; scopeOf: ScopeOf; tags: string[] }): FastifyPluginAsyncTypebox {
  const params = base.includes(':account_id') ? Type.Object({ account_id: Uuid }) : Type.Object({});
  const withId = Type.Composite([params, ConnectionParams]);
  const idOf = (request: FastifyRequest) => (request.params as { id: string }).id;
  const view = (row: Parameters<typeof toConnectionResponse>[1]) => toConnectionResponse(ctx.config, row);
  return async (app) => {
    app.post(`${base}/sso-connections`, {
      schema: { tags, security, params, body: CreateConnectionBody, response: { 201: ConnectionResponse } },
    }, async (request, reply) => reply.code(201).send(view(await createConnection(ctx, { scope: await scopeOf(request), body: request.body, meta: requestMeta(request) }))));

    app.get(`${base}/sso-connections`, {
      schema: { tags, security, params, response: { 200: Type.Array(ConnectionResponse) } },
    }, async (request) => (await listAccountConnections(ctx, await scopeOf(request))).map(view));

    app.get(`${base}/sso-connections/:id`, {
      schema: { tags, security, params: withId, response: { 200: ConnectionResponse } },
    }, async (request) => view(await getConnection(ctx, await scopeOf(request), idOf(request))));

    app.patch(`${base}/sso-connections/:id`, {
      schema: { tags, security, params: withId, body: UpdateConnectionBody, response: { 200: ConnectionResponse } },
    }, async (request) => view(await changeConnection(ctx, { scope: await scopeOf(request), id: idOf(request), body: request.body, meta: requestMeta(request) })));

    app.delete(`${base}/sso-connections/:id`, {
      schema: { tags, security, params: withId, response: { 204: NoContent } },
    }, async (request, reply) => {
      await removeConnection(ctx, { scope: await scopeOf(request), id: idOf(request), meta: requestMeta(request) });
      return reply.code(204).send(null);
    });

    app.get(`${base}/sso-settings`, {
      schema: { tags, security, params, response: { 200: SsoSettingsResponse } },
    }, async (request) => getPolicy(ctx, await scopeOf(request)));

    app.put(`${base}/sso-settings`, {
      schema: { tags, security, params, body: SsoSettingsBody, response: { 200: SsoSettingsResponse } },
    }, async (request) => setPolicy(ctx, { scope: await scopeOf(request), policy: request.body, meta: requestMeta(request) }));
  };
}

export const ssoConnectionRoutes: FastifyPluginAsyncTypebox<{ ctx: AppContext }> = async (app, { ctx }) => {
  await app.register(async (own) => {
    own.addHook('onRequest', requireUser(ctx));
    await own.register(routes(ctx, { base: '/accounts/me', scopeOf: async (request) => ownAccountScope(currentUser(request)), tags: ['sso'] }));
  });
  await app.register(async (admin) => {
    admin.addHook('onRequest', requireAdmin(ctx));
    await admin.register(routes(ctx, {
      base: '/admin/accounts/:account_id',
      scopeOf: async (request) => {
        const { account_id } = request.params as { account_id: string };
        return adminAccountScope(ctx, currentUser(request), account_id);
      },
      tags: ['admin'],
    }));
  });
};
