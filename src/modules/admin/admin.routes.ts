// Platform administration: invite codes, settings, users and the audit log. Every route is
// for users with `role: "admin"` (others: 403 `Not enough permissions`, anonymous: 401).
// The command line (src/cli.ts) calls the same service functions.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { AppContext } from '../../context.js';
import { currentUser, requestMeta, requireAdmin } from '../../plugins/authenticate.js';
import { PageQuery } from '../../http/paging.js';
import { queryNumber, UserParams } from '../../http/request-params.js';
import { searchAuditLogs } from '../audit/audit-logs.service.js';
import { AuditLogResponse, toAuditLogResponse } from '../audit/audit.schemas.js';
import { createInviteCodes, listInviteCodes } from '../invites/invite-codes.service.js';
import { changeSetting, getAllSettings } from '../settings/settings.service.js';
import { toUserResponse, UserResponse } from '../users/user.schemas.js';
import {
  AuditLogsQuery,
  CreateInviteCodesBody,
  InviteCodeResponse,
  SettingBody,
  SettingParams,
  SettingResponse,
  SettingsResponse,
  toInviteCodeResponse,
  UpdateUserBody,
  UsersQuery,
} from './admin.schemas.js';
import { listUsers, updateUserAsAdmin } from './admin-users.service.js';

export const adminRoutes: FastifyPluginAsyncTypebox<{ ctx: AppContext }> = async (app, { ctx }) => {
  // One hook for the whole plugin: a route added here later cannot forget the guard.
  app.addHook('onRequest', requireAdmin(ctx));
  const tags = ['admin'];
  const security = [{ bearer: [] }];

  app.post('/admin/invite-codes', {
    schema: { tags, security, body: CreateInviteCodesBody, response: { 201: Type.Array(InviteCodeResponse) } },
  }, async (request, reply) => {
    const codes = await createInviteCodes(ctx, { actorId: currentUser(request).id, input: request.body, meta: requestMeta(request) });
    return reply.code(201).send(codes.map(toInviteCodeResponse));
  });

  app.get('/admin/invite-codes', {
    schema: { tags, security, querystring: PageQuery, response: { 200: Type.Array(InviteCodeResponse) } },
  }, async (request) => {
    const page = { limit: queryNumber(request.query.limit), offset: queryNumber(request.query.offset) };
    return (await listInviteCodes(ctx, page)).map(toInviteCodeResponse);
  });

  app.get('/admin/settings', {
    schema: { tags, security, response: { 200: SettingsResponse } },
  }, async () => getAllSettings(ctx.db));

  app.put('/admin/settings/:key', {
    schema: { tags, security, params: SettingParams, body: SettingBody, response: { 200: SettingResponse } },
  }, async (request) => changeSetting(ctx, { actorId: currentUser(request).id, key: request.params.key, value: request.body.value, meta: requestMeta(request) }));

  app.get('/admin/users', {
    schema: { tags, security, querystring: UsersQuery, response: { 200: Type.Array(UserResponse) } },
  }, async (request) => {
    const { q, limit, offset } = request.query;
    return (await listUsers(ctx, { q, limit: queryNumber(limit), offset: queryNumber(offset) })).map(toUserResponse);
  });

  app.patch('/admin/users/:id', {
    schema: { tags, security, params: UserParams, body: UpdateUserBody, response: { 200: UserResponse } },
  }, async (request) => {
    const user = await updateUserAsAdmin(ctx, { actorId: currentUser(request).id, userId: request.params.id, changes: request.body, meta: requestMeta(request) });
    return toUserResponse(user);
  });

  app.get('/admin/audit-logs', {
    schema: { tags, security, querystring: AuditLogsQuery, response: { 200: Type.Array(AuditLogResponse) } },
  }, async (request) => {
    const rows = await searchAuditLogs(ctx, { ...request.query, limit: queryNumber(request.query.limit) });
    return rows.map(toAuditLogResponse);
  });
};
