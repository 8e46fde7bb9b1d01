// The account lifecycle: DELETE /auth/me, GET /auth/me/export,
// POST /accounts/me/transfer-ownership, DELETE /admin/users/{id}. The module (deletion, export)
// orchestrates the others and is the top of the feature modules' layering
// (docs/architecture.md); ownership transfer itself is accounts/ownership.ts.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { AppContext } from '../../context.js';
import { currentUser, requestMeta, requireAdmin, requireUser } from '../../plugins/authenticate.js';
import { sharedBudget } from '../../plugins/rate-limit.js';
import { UserParams } from '../../http/request-params.js';
import { deleteOwnAccount, deleteUserAsAdmin } from './account-deletion.js';
import { AccountResponse, toAccountResponse } from '../accounts/accounts.schemas.js';
import { exportUserData } from './data-export.js';
import { DataExportResponse, DeleteMeBody, TransferOwnershipBody } from './lifecycle.schemas.js';
import { transferOwnership } from '../accounts/ownership.js';

const NoContent = Type.Null({ description: 'No content' });
const security = [{ bearer: [] }];

export const accountLifecycleRoutes: FastifyPluginAsyncTypebox<{ ctx: AppContext }> = async (app, { ctx }) => {
  app.addHook('onRequest', requireUser(ctx));

  app.delete('/auth/me', {
    // A user without a password or MFA has nothing to send: no body is an empty one.
    preValidation: async (request) => {
      request.body ??= {};
    },
    // A request that carries a password or code has it checked, and counts like any check.
    preHandler: sharedBudget('password-check', (request) => {
      const body = (request.body ?? {}) as { password?: unknown; code?: unknown };
      return typeof body.password === 'string' || typeof body.code === 'string';
    }),
    schema: { tags: ['auth'], security, body: DeleteMeBody, response: { 204: NoContent } },
  }, async (request, reply) => {
    await deleteOwnAccount(ctx, { user: currentUser(request), proof: request.body, meta: requestMeta(request) });
    return reply.code(204).send(null);
  });

  app.get('/auth/me/export', {
    schema: { tags: ['auth'], security, response: { 200: DataExportResponse } },
  }, async (request, reply) => {
    const user = currentUser(request);
    const data = await exportUserData(ctx, user, requestMeta(request));
    return reply
      .header('content-disposition', `attachment; filename="keyhold-export-${user.id}.json"`)
      .header('cache-control', 'no-store')
      .send(data);
  });

  app.post('/accounts/me/transfer-ownership', {
    schema: { tags: ['accounts'], security, body: TransferOwnershipBody, response: { 200: AccountResponse } },
  }, async (request) => toAccountResponse(await transferOwnership(ctx, { actor: currentUser(request), newOwnerId: request.body.user_id, meta: requestMeta(request) })));
};

export const adminAccountLifecycleRoutes: FastifyPluginAsyncTypebox<{ ctx: AppContext }> = async (app, { ctx }) => {
  app.addHook('onRequest', requireAdmin(ctx));

  app.delete('/admin/users/:id', {
    schema: { tags: ['admin'], security, params: UserParams, response: { 204: NoContent } },
  }, async (request, reply) => {
    await deleteUserAsAdmin(ctx, { actorId: currentUser(request).id, userId: request.params.id, meta: requestMeta(request) });
    return reply.code(204).send(null);
  });
};
