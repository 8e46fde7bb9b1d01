// /auth/email/*: whether verification is on (public), a new link (signed in), and the link's target.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { AppContext } from '../../context.js';
import { Message } from '../../http/schema-types.js';
import { currentUser, requestMeta, requireUser } from '../../plugins/authenticate.js';
import { perMinute } from '../../plugins/rate-limit.js';
import { isVerificationEnabled, sendVerificationEmail, verifyEmail } from './email-verification.js';

const VerificationStatus = Type.Object({ enabled: Type.Boolean() });
// The reference takes a free dict here, so a missing or odd `token` is its own 400
// ("Token is required"), not a 422. Only a body that is not an object is a 422.
const VerifyEmailBody = Type.Object({ token: Type.Optional(Type.Unknown()) });

export const emailVerificationRoutes: FastifyPluginAsyncTypebox<{ ctx: AppContext }> = async (app, { ctx }) => {
  const tags = ['email verification'];

  app.get('/auth/email/verification-status', {
    schema: { tags, response: { 200: VerificationStatus } },
  }, async () => ({ enabled: await isVerificationEnabled(ctx) }));

  app.post('/auth/email/send-verification', {
    onRequest: requireUser(ctx),
    config: perMinute(3),
    schema: { tags, security: [{ bearer: [] }], response: { 200: Message } },
  }, async (request) => {
    await sendVerificationEmail(ctx, currentUser(request));
    return { message: 'Verification email sent' };
  });

  app.post('/auth/email/verify', {
    schema: { tags, body: VerifyEmailBody, response: { 200: Message } },
  }, async (request) => {
    await verifyEmail(ctx, request.body.token, requestMeta(request));
    return { message: 'Email verified successfully' };
  });
};
