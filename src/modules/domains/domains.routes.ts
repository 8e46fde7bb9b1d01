// POST/GET /accounts/me/domains, POST /accounts/me/domains/{id}/verify, DELETE
// /accounts/me/domains/{id}; the same under /admin/accounts/{account_id}/ for platform admins.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import type { AppContext } from '../../context.js';
import { Uuid } from '../../http/schema-types.js';
import { currentUser, requestMeta, requireAdmin, requireUser } from '../../plugins/authenticate.js';
import { perMinute } from '../../plugins/rate-limit.js';
import { adminAccountScope, ownAccountScope, type AccountScope } from '../accounts/account-scope.js';
import { createTxtLookup, type TxtLookup } from './dns-verification.js';
import { ClaimDomainBody, DomainParams, DomainResponse, toDomainResponse } from './domains.schemas.js';
import { claimDomain, listAccountDomains, removeDomain, verifyDomain } from './domains.service.js';

const NoContent = Type.Null({ description: 'No content' });
const security = [{ bearer: [] }];
const AdminAccountParams = Type.Object({ account_id: Uuid });

type ScopeOf = (request: FastifyRequest) => Promise<AccountScope>;

/** `base`: the path the routes hang under; `scopeOf`: whose domains a request may touch. */
function domainRoutes(ctx: AppContext, lookup: TxtLookup, mount: { base: string; scopeOf: ScopeOf; tags: string[] }): FastifyPluginAsyncTypebox {
  const { base, scopeOf, tags } = mount;
  const params = base.includes(':account_id') ? AdminAccountParams : Type.Object({});
  const withId = Type.Composite([params, DomainParams]);
  return async (app) => {
    app.post(`${base}/domains`, {
      schema: { tags, security, params, body: ClaimDomainBody, response: { 201: DomainResponse } },
    }, async (request, reply) => {
      const row = await claimDomain(ctx, { scope: await scopeOf(request), input: request.body.domain, meta: requestMeta(request) });
      return reply.code(201).send(toDomainResponse(row));
    });

    app.get(`${base}/domains`, {
      schema: { tags, security, params, response: { 200: Type.Array(DomainResponse) } },
    }, async (request) => (await listAccountDomains(ctx, await scopeOf(request))).map(toDomainResponse));

    app.post(`${base}/domains/:id/verify`, {
      // Each attempt is a DNS query: bounded.
      config: perMinute(30),
      schema: { tags, security, params: withId, response: { 200: DomainResponse } },
    }, async (request) => {
      const { id } = request.params as { id: string };
      return toDomainResponse(await verifyDomain(ctx, lookup, { scope: await scopeOf(request), id, meta: requestMeta(request) }));
    });

    app.delete(`${base}/domains/:id`, {
      schema: { tags, security, params: withId, response: { 204: NoContent } },
    }, async (request, reply) => {
      const { id } = request.params as { id: string };
      await removeDomain(ctx, { scope: await scopeOf(request), id, meta: requestMeta(request) });
      return reply.code(204).send(null);
    });
  };
}

export const accountDomainRoutes: FastifyPluginAsyncTypebox<{ ctx: AppContext; lookup?: TxtLookup }> = async (app, { ctx, lookup }) => {
  const txt = lookup ?? createTxtLookup(ctx.config.dnsServers);
  await app.register(async (own) => {
    own.addHook('onRequest', requireUser(ctx));
    await own.register(domainRoutes(ctx, txt, { base: '/accounts/me', scopeOf: async (request) => ownAccountScope(currentUser(request)), tags: ['accounts'] }));
  });
  await app.register(async (admin) => {
    admin.addHook('onRequest', requireAdmin(ctx));
    await admin.register(domainRoutes(ctx, txt, {
      base: '/admin/accounts/:account_id',
      scopeOf: async (request) => {
        const { account_id } = request.params as { account_id: string };
        return adminAccountScope(ctx, currentUser(request), account_id);
      },
      tags: ['admin'],
    }));
  });
};
