// /scim/v2 (root, no API prefix): SCIM 2.0 for an account's directory. Bearer: a SCIM token
// (POST /accounts/me/scim-tokens), whose account scopes everything. Bodies are
// application/scim+json (application/json too); replies are application/scim+json, and every
// failure is in the SCIM error schema (this plugin's own error and not-found handlers).
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { AppContext } from '../../context.js';
import { Errors, ScimError } from '../../lib/errors.js';
import { bearerToken } from '../../plugins/authenticate.js';
import { toAppError } from '../../plugins/errors.js';
import type { AccountIdentityFacts } from './identity-facts.js';
import type { ScimCaller, ScimDeps } from './scim-context.js';
import { resourceTypes, schemas, serviceProviderConfig } from './scim-discovery.js';
import { compileFilter } from './scim-filter.js';
import {
  createScimGroup,
  deleteScimGroupById,
  getScimGroup,
  listGroups,
  patchScimGroup,
  replaceScimGroup,
} from './scim-groups.service.js';
import { leavesOut, parseAttributeList, project } from './scim-projection.js';
import { ERROR_SCHEMA, LIST_RESPONSE_SCHEMA, MAX_PAGE_SIZE, SCIM_MEDIA_TYPE } from './scim-schemas.js';
import { authenticateScimToken } from './scim-tokens.service.js';
import { createScimUser, deleteScimUser, getScimUser, listUsers, patchScimUser, replaceScimUser } from './scim-users.service.js';
import { searchAll, type ListQuery } from './scim-search.js';

declare module 'fastify' {
  interface FastifyRequest {
    scim?: ScimCaller;
  }
}

export const SCIM_PREFIX = '/scim/v2';
const DEFAULT_PAGE_SIZE = 100;

const ListQuery = Type.Object({
  filter: Type.Optional(Type.String({ maxLength: 2000 })),
  startIndex: Type.Optional(Type.String({ maxLength: 12 })),
  count: Type.Optional(Type.String({ maxLength: 12 })),
  attributes: Type.Optional(Type.String({ maxLength: 2000 })),
  excludedAttributes: Type.Optional(Type.String({ maxLength: 2000 })),
  sortBy: Type.Optional(Type.String({ maxLength: 200 })),
  sortOrder: Type.Optional(Type.String({ maxLength: 20 })),
});
const ProjectionQuery = Type.Object({
  attributes: Type.Optional(Type.String({ maxLength: 2000 })),
  excludedAttributes: Type.Optional(Type.String({ maxLength: 2000 })),
});
const IdParams = Type.Object({ id: Type.String({ maxLength: 100 }) });
/** SCIM resources are open-ended (extensions, attributes as sent): checked by the mapping. */
const ScimBody = Type.Object({}, { additionalProperties: true, description: 'A SCIM resource or message (RFC 7643/7644)' });
const ScimReply = Type.Object({}, { additionalProperties: true, description: 'application/scim+json' });

export interface ScimRoutesOptions {
  ctx: AppContext;
  facts: AccountIdentityFacts;
}

export const scimRoutes: FastifyPluginAsyncTypebox<ScimRoutesOptions> = async (app, { ctx, facts }) => {
  const deps: ScimDeps = { db: ctx.db, clock: ctx.clock, config: ctx.config, jobs: ctx.jobs, tokens: ctx.tokens, facts };
  const baseUrl = `${ctx.config.publicUrl}${SCIM_PREFIX}`;
  app.addContentTypeParser(SCIM_MEDIA_TYPE, { parseAs: 'string' }, app.getDefaultJsonParser('error', 'ignore'));
  app.setErrorHandler(renderScimError);
  app.setNotFoundHandler((request, reply) => sendScimError(reply, Errors.scimResourceNotFound(), request));
  app.addHook('onRequest', async (request) => {
    const token = await authenticateScimToken(ctx, bearerToken(request));
    if (!token) throw Errors.credentials();
    request.scim = {
      accountId: token.account_id,
      tokenId: token.id,
      ip: request.ip ?? null,
      userAgent: typeof request.headers['user-agent'] === 'string' ? request.headers['user-agent'].slice(0, 512) : null,
      baseUrl,
    };
  });
  const caller = (request: FastifyRequest): ScimCaller => request.scim!;
  const tags = ['scim'];
  const security = [{ bearer: [] }];
  const docs = `${ctx.config.publicUrl}/docs`;

  app.get('/ServiceProviderConfig', { schema: { tags, security, response: { 200: ScimReply } } }, async (_request, reply) =>
    send(reply, 200, serviceProviderConfig(baseUrl, docs)),
  );
  app.get('/ResourceTypes', { schema: { tags, security, response: { 200: ScimReply } } }, async (_request, reply) =>
    send(reply, 200, listResponse(resourceTypes(baseUrl), resourceTypes(baseUrl).length, 1)),
  );
  app.get('/ResourceTypes/:id', { schema: { tags, security, params: IdParams, response: { 200: ScimReply } } }, async (request, reply) => {
    const found = resourceTypes(baseUrl).find((r) => r.id === request.params.id);
    if (!found) throw Errors.scimResourceNotFound();
    return send(reply, 200, found);
  });
  app.get('/Schemas', { schema: { tags, security, response: { 200: ScimReply } } }, async (_request, reply) =>
    send(reply, 200, listResponse(schemas(baseUrl), schemas(baseUrl).length, 1)),
  );
  app.get('/Schemas/:id', { schema: { tags, security, params: IdParams, response: { 200: ScimReply } } }, async (request, reply) => {
    const found = schemas(baseUrl).find((s) => s.id === request.params.id);
    if (!found) throw Errors.scimResourceNotFound();
    return send(reply, 200, found);
  });

  // ---- Users ----
  app.get('/Users', { schema: { tags, security, querystring: ListQuery, response: { 200: ScimReply } } }, async (request, reply) => {
    const query = readListQuery(request.query);
    const filter = query.filter ? compileFilter('User', query.filter) : null;
    const { total, resources } = await listUsers(deps, { caller: caller(request), filter, page: query.page });
    return send(reply, 200, listResponse(resources.map((r) => project(r, query.attributes, query.excluded)), total, query.startIndex));
  });
  app.post('/Users', { schema: { tags, security, body: ScimBody, response: { 201: ScimReply } } }, async (request, reply) =>
    sendCreated(reply, await createScimUser(deps, caller(request), request.body)),
  );
  app.get('/Users/:id', { schema: { tags, security, params: IdParams, querystring: ProjectionQuery, response: { 200: ScimReply } } }, async (request, reply) => {
    const resource = await getScimUser(deps, caller(request), request.params.id);
    return send(reply, 200, project(resource, parseAttributeList(request.query.attributes), parseAttributeList(request.query.excludedAttributes)));
  });
  app.put('/Users/:id', { schema: { tags, security, params: IdParams, body: ScimBody, response: { 200: ScimReply } } }, async (request, reply) =>
    send(reply, 200, await replaceScimUser(deps, { caller: caller(request), id: request.params.id, body: request.body })),
  );
  app.patch('/Users/:id', { schema: { tags, security, params: IdParams, body: ScimBody, response: { 200: ScimReply } } }, async (request, reply) =>
    send(reply, 200, await patchScimUser(deps, { caller: caller(request), id: request.params.id, body: request.body })),
  );
  app.delete('/Users/:id', { schema: { tags, security, params: IdParams, response: { 204: Type.Null() } } }, async (request, reply) => {
    await deleteScimUser(deps, caller(request), request.params.id);
    return reply.code(204).send(null);
  });

  // ---- Groups ----
  app.get('/Groups', { schema: { tags, security, querystring: ListQuery, response: { 200: ScimReply } } }, async (request, reply) => {
    const query = readListQuery(request.query);
    const filter = query.filter ? compileFilter('Group', query.filter) : null;
    const withMembers = !leavesOut('members', query.attributes, query.excluded);
    const { total, resources } = await listGroups(deps, caller(request), { filter, page: query.page, withMembers });
    return send(reply, 200, listResponse(resources.map((r) => project(r, query.attributes, query.excluded)), total, query.startIndex));
  });
  app.post('/Groups', { schema: { tags, security, body: ScimBody, response: { 201: ScimReply } } }, async (request, reply) =>
    sendCreated(reply, await createScimGroup(deps, caller(request), request.body)),
  );
  app.get('/Groups/:id', { schema: { tags, security, params: IdParams, querystring: ProjectionQuery, response: { 200: ScimReply } } }, async (request, reply) => {
    const attributes = parseAttributeList(request.query.attributes);
    const excluded = parseAttributeList(request.query.excludedAttributes);
    const resource = await getScimGroup(deps, { caller: caller(request), id: request.params.id, withMembers: !leavesOut('members', attributes, excluded) });
    return send(reply, 200, project(resource, attributes, excluded));
  });
  app.put('/Groups/:id', { schema: { tags, security, params: IdParams, body: ScimBody, response: { 200: ScimReply } } }, async (request, reply) =>
    send(reply, 200, await replaceScimGroup(deps, { caller: caller(request), id: request.params.id, body: request.body })),
  );
  app.patch('/Groups/:id', { schema: { tags, security, params: IdParams, body: ScimBody, response: { 200: ScimReply } } }, async (request, reply) =>
    send(reply, 200, await patchScimGroup(deps, { caller: caller(request), id: request.params.id, body: request.body })),
  );
  app.delete('/Groups/:id', { schema: { tags, security, params: IdParams, response: { 204: Type.Null() } } }, async (request, reply) => {
    await deleteScimGroupById(deps, caller(request), request.params.id);
    return reply.code(204).send(null);
  });

  // ---- POST /.search (RFC 7644 §3.4.3): at the root (both types) and per type ----
  for (const [path, kinds] of [['/.search', ['User', 'Group']], ['/Users/.search', ['User']], ['/Groups/.search', ['Group']]] as const) {
    app.post(path, { schema: { tags, security, body: ScimBody, response: { 200: ScimReply } } }, async (request, reply) => {
      const body = request.body as Record<string, unknown>;
      const query = readListQuery({
        filter: stringOrUndefined(body.filter),
        startIndex: body.startIndex === undefined ? undefined : String(body.startIndex),
        count: body.count === undefined ? undefined : String(body.count),
        attributes: Array.isArray(body.attributes) ? body.attributes.join(',') : stringOrUndefined(body.attributes),
        excludedAttributes: Array.isArray(body.excludedAttributes) ? body.excludedAttributes.join(',') : stringOrUndefined(body.excludedAttributes),
      });
      const { total, resources } = await searchAll(deps, { caller: caller(request), kinds: [...kinds], query });
      return send(reply, 200, listResponse(resources.map((r) => project(r, query.attributes, query.excluded)), total, query.startIndex));
    });
  }
};

const stringOrUndefined = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

function readListQuery(query: Record<string, string | undefined>): ListQuery {
  const integer = (value: string | undefined, name: string): number | undefined => {
    if (value === undefined || value === '') return undefined;
    if (!/^-?\d{1,10}$/.test(value.trim())) throw Errors.scimInvalidValue(`${name} must be an integer`);
    return Number(value.trim());
  };
  // RFC 7644 §3.4.2.4: below 1 means 1; a negative count means 0; above the maximum, the maximum.
  const startIndex = Math.max(1, integer(query.startIndex, 'startIndex') ?? 1);
  const count = Math.min(MAX_PAGE_SIZE, Math.max(0, integer(query.count, 'count') ?? DEFAULT_PAGE_SIZE));
  return {
    filter: query.filter?.trim() ? query.filter : undefined,
    startIndex,
    page: { offset: startIndex - 1, limit: count },
    attributes: parseAttributeList(query.attributes),
    excluded: parseAttributeList(query.excludedAttributes),
  };
}

function listResponse(resources: unknown[], total: number, startIndex: number) {
  return { schemas: [LIST_RESPONSE_SCHEMA], totalResults: total, startIndex, itemsPerPage: resources.length, Resources: resources };
}

function send(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply.code(status).type(`${SCIM_MEDIA_TYPE}; charset=utf-8`).send(JSON.stringify(body));
}

function sendCreated(reply: FastifyReply, resource: Record<string, unknown>): FastifyReply {
  const location = (resource.meta as { location?: string } | undefined)?.location;
  if (location) reply.header('Location', location);
  return send(reply, 201, resource);
}

/** RFC 7644 §3.12: {schemas, status (a string), scimType?, detail}. */
function sendScimError(reply: FastifyReply, error: FastifyError | Error, request: FastifyRequest): FastifyReply {
  if (error instanceof ScimError) {
    return send(reply, error.statusCode, { schemas: [ERROR_SCHEMA], status: String(error.statusCode), ...(error.scimType ? { scimType: error.scimType } : {}), detail: error.message });
  }
  const refusal = toAppError(error);
  if (refusal.statusCode >= 500 && refusal.statusCode !== 503) request.log.error({ err: error }, 'unhandled error');
  // Validation failures and malformed JSON are SCIM's 400 invalidSyntax, not FastAPI's 422.
  const status = refusal.statusCode === 422 ? 400 : refusal.statusCode;
  const { detail, headers } = refusal;
  const text = typeof detail === 'string' ? detail : status === 400 ? 'The request is not valid SCIM' : 'Request failed';
  reply.headers(headers);
  return send(reply, status, { schemas: [ERROR_SCHEMA], status: String(status), ...(status === 400 ? { scimType: 'invalidSyntax' } : {}), detail: text });
}

function renderScimError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return sendScimError(reply, error, request);
}
