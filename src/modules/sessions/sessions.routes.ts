// The sessions a user can see and end, and the admin pair: /auth/sessions…,
// /admin/users/{id}/sessions. Replies go through SessionResponse, which has no token field.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { AppContext } from '../../context.js';
import { currentSessionId, currentUser, requestMeta, requireAdmin, requireUser } from '../../plugins/authenticate.js';
import { UserParams } from '../../http/request-params.js';
import { endOtherSessions, endOwnSession, endSessionsAsAdmin, listSessions, listSessionsAsAdmin } from './device-sessions.service.js';
import { RevokedResponse, SessionParams, SessionResponse, toSessionResponse } from './sessions.schemas.js';

const NoContent = Type.Null({ description: 'No content' });
const security = [{ bearer: [] }];

export const sessionsRoutes: FastifyPluginAsyncTypebox<{ ctx: AppContext }> = async (app, { ctx }) => {
  app.addHook('onRequest', requireUser(ctx));
  const tags = ['sessions'];

  app.get('/auth/sessions', {
    schema: { tags, security, response: { 200: Type.Array(SessionResponse) } },
  }, async (request) => {
    const sessions = await listSessions(ctx, currentUser(request).id);
    return sessions.map((session) => toSessionResponse(session, currentSessionId(request)));
  });

  app.delete('/auth/sessions/:id', {
    schema: { tags, security, params: SessionParams, response: { 204: NoContent } },
  }, async (request, reply) => {
    await endOwnSession(ctx, { userId: currentUser(request).id, sessionId: request.params.id, meta: requestMeta(request) });
    return reply.code(204).send(null);
  });

  app.post('/auth/sessions/revoke-others', {
    schema: { tags, security, response: { 200: RevokedResponse } },
  }, async (request) => ({
    revoked: await endOtherSessions(ctx, { userId: currentUser(request).id, currentSessionId: currentSessionId(request), meta: requestMeta(request) }),
  }));
};

export const adminSessionsRoutes: FastifyPluginAsyncTypebox<{ ctx: AppContext }> = async (app, { ctx }) => {
  // One hook for the whole plugin, as in admin.routes.ts.
  app.addHook('onRequest', requireAdmin(ctx));
  const tags = ['admin'];

  app.get('/admin/users/:id/sessions', {
    schema: { tags, security, params: UserParams, response: { 200: Type.Array(SessionResponse) } },
  }, async (request) => {
    const sessions = await listSessionsAsAdmin(ctx, request.params.id);
    return sessions.map((session) => toSessionResponse(session, currentSessionId(request)));
  });

  app.delete('/admin/users/:id/sessions', {
    schema: { tags, security, params: UserParams, response: { 200: RevokedResponse } },
  }, async (request) => ({
    revoked: await endSessionsAsAdmin(ctx, { actorId: currentUser(request).id, userId: request.params.id, meta: requestMeta(request) }),
  }));
};
