// The caller's own account: /accounts/me, its members and its invites. Bearer required;
// a user only ever sees and changes their own account.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { AppContext } from '../../context.js';
import { currentUser, requestMeta, requireUser } from '../../plugins/authenticate.js';
import { perMinute } from '../../plugins/rate-limit.js';
import { createAccountInvite, listAccountInvites, revokeAccountInvite } from './account-invites.service.js';
import { toUserResponse, UserResponse } from '../users/user.schemas.js';
import {
  AccountInviteResponse,
  AccountResponse,
  ChangeMemberRoleBody,
  CreateInviteBody,
  InviteParams,
  MemberParams,
  toAccountInviteResponse,
  toAccountResponse,
} from './accounts.schemas.js';
import { changeMemberRole, getAccount, listMembers, removeMember } from './accounts.service.js';

export const accountsRoutes: FastifyPluginAsyncTypebox<{ ctx: AppContext }> = async (app, { ctx }) => {
  app.addHook('onRequest', requireUser(ctx));
  const tags = ['accounts'];
  const security = [{ bearer: [] }];
  const NoContent = Type.Null({ description: 'No content' });

  app.get('/accounts/me', {
    schema: { tags, security, response: { 200: AccountResponse } },
  }, async (request) => toAccountResponse(await getAccount(ctx, currentUser(request))));

  app.get('/accounts/me/members', {
    schema: { tags, security, response: { 200: Type.Array(UserResponse) } },
  }, async (request) => (await listMembers(ctx, currentUser(request))).map(toUserResponse));

  app.patch('/accounts/me/members/:user_id', {
    schema: { tags, security, params: MemberParams, body: ChangeMemberRoleBody, response: { 200: UserResponse } },
  }, async (request) => {
    const user = await changeMemberRole(ctx, {
      actor: currentUser(request),
      targetId: request.params.user_id,
      role: request.body.account_role,
      meta: requestMeta(request),
    });
    return toUserResponse(user);
  });

  app.delete('/accounts/me/members/:user_id', {
    schema: { tags, security, params: MemberParams, response: { 204: NoContent } },
  }, async (request, reply) => {
    await removeMember(ctx, { actor: currentUser(request), targetId: request.params.user_id, meta: requestMeta(request) });
    return reply.code(204).send(null);
  });

  app.post('/accounts/me/invites', {
    // Each invite sends an email: bounded so an account cannot be used to spam.
    config: perMinute(20),
    schema: { tags, security, body: CreateInviteBody, response: { 201: AccountInviteResponse } },
  }, async (request, reply) => {
    const invite = await createAccountInvite(ctx, { actor: currentUser(request), input: request.body, meta: requestMeta(request) });
    return reply.code(201).send(toAccountInviteResponse(invite));
  });

  app.get('/accounts/me/invites', {
    schema: { tags, security, response: { 200: Type.Array(AccountInviteResponse) } },
  }, async (request) => (await listAccountInvites(ctx, currentUser(request))).map(toAccountInviteResponse));

  app.delete('/accounts/me/invites/:id', {
    schema: { tags, security, params: InviteParams, response: { 204: NoContent } },
  }, async (request, reply) => {
    await revokeAccountInvite(ctx, { actor: currentUser(request), inviteId: request.params.id, meta: requestMeta(request) });
    return reply.code(204).send(null);
  });
};
