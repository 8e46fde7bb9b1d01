// POST /admin/users/{id}/mfa/reset: the admin's reset of a user's factors (mfa-reset.ts).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AppContext } from '../../context.js';
import { UserParams } from '../../http/request-params.js';
import { currentUser, requestMeta, requireAdmin } from '../../plugins/authenticate.js';
import { toUserResponse, UserResponse } from '../users/user.schemas.js';
import { resetUserMfa } from './mfa-reset.js';

export const mfaAdminRoutes: FastifyPluginAsyncTypebox<{ ctx: AppContext }> = async (app, { ctx }) => {
  app.addHook('onRequest', requireAdmin(ctx));
  app.post('/admin/users/:id/mfa/reset', {
    schema: { tags: ['admin'], security: [{ bearer: [] }], params: UserParams, response: { 200: UserResponse } },
  }, async (request) => toUserResponse(await resetUserMfa(ctx, { adminId: currentUser(request).id, userId: request.params.id, meta: requestMeta(request) })));
};
