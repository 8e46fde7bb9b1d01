// /auth/password/*: change (signed in), forgot, verify-reset-token and reset (by emailed link).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AppContext } from '../../context.js';
import { Message } from '../../http/schema-types.js';
import { currentUser, requestMeta, requireUser } from '../../plugins/authenticate.js';
import { perMinute, sharedBudget } from '../../plugins/rate-limit.js';
import { checkResetToken, requestPasswordReset, resetPassword } from './password-reset.service.js';
import {
  ChangePasswordBody,
  ForgotPasswordBody,
  ResetPasswordBody,
  VerifyResetTokenBody,
  VerifyResetTokenResponse,
} from './passwords.schemas.js';
import { changePassword } from './passwords.service.js';

export const passwordRoutes: FastifyPluginAsyncTypebox<{ ctx: AppContext }> = async (app, { ctx }) => {
  const tags = ['passwords'];

  app.post('/auth/password/change', {
    onRequest: requireUser(ctx),
    preHandler: sharedBudget('password-check'),
    schema: { tags, security: [{ bearer: [] }], body: ChangePasswordBody, response: { 200: Message } },
  }, async (request) => {
    await changePassword(ctx, { user: currentUser(request), input: request.body, meta: requestMeta(request) });
    return { message: 'Password changed successfully' };
  });

  app.post('/auth/password/forgot', {
    config: perMinute(3),
    schema: { tags, body: ForgotPasswordBody, response: { 200: Message } },
  }, async (request) => {
    await requestPasswordReset(ctx, request.body.email, requestMeta(request));
    return { message: 'If an account with that email exists, a reset link has been sent.' };
  });

  app.post('/auth/password/verify-reset-token', {
    schema: { tags, body: VerifyResetTokenBody, response: { 200: VerifyResetTokenResponse } },
  }, async (request) => checkResetToken(ctx, request.body.token));

  app.post('/auth/password/reset', {
    config: perMinute(5),
    schema: { tags, body: ResetPasswordBody, response: { 200: Message } },
  }, async (request) => {
    await resetPassword(ctx, request.body, requestMeta(request));
    return { message: 'Password has been reset successfully' };
  });
};
