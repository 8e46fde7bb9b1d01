// Multi-factor authentication: TOTP enrolment (/auth/mfa/totp/*, /auth/mfa/recovery-codes).
// The second step of a sign-in (/auth/mfa/verify, /auth/mfa/passkey/options) is the sign-in's
// (auth/mfa-sign-in.routes.ts), the admin's reset the admin's (admin/mfa-reset.routes.ts).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AppContext } from '../../context.js';
import { Message } from '../../http/schema-types.js';
import { currentSessionId, currentUser, requestMeta, requireUser } from '../../plugins/authenticate.js';
import { perMinute, sharedBudget } from '../../plugins/rate-limit.js';
import { CodeBody, RecoveryCodesResponse, TotpSetupResponse } from './mfa.schemas.js';
import { disableTotp, enableTotp, regenerateRecoveryCodes, setupTotp } from './mfa.service.js';

export const mfaRoutes: FastifyPluginAsyncTypebox<{ ctx: AppContext }> = async (app, { ctx }) => {
  const authenticated = requireUser(ctx);
  const tags = ['mfa'];
  const security = [{ bearer: [] }];
  // Every code a signed-in user presents draws from the budget password checks share.
  const codeCheck = sharedBudget('password-check');

  app.post('/auth/mfa/totp/setup', {
    onRequest: authenticated,
    config: perMinute(10),
    schema: { tags, security, response: { 200: TotpSetupResponse } },
  }, async (request) => setupTotp(ctx, currentUser(request), requestMeta(request)));

  app.post('/auth/mfa/totp/enable', {
    onRequest: authenticated,
    preHandler: codeCheck,
    schema: { tags, security, body: CodeBody, response: { 200: RecoveryCodesResponse } },
  }, async (request) => enableTotp(ctx, { user: currentUser(request), code: request.body.code, session: { sessionId: currentSessionId(request) }, meta: requestMeta(request) }));

  app.post('/auth/mfa/totp/disable', {
    onRequest: authenticated,
    preHandler: codeCheck,
    schema: { tags, security, body: CodeBody, response: { 200: Message } },
  }, async (request) => {
    await disableTotp(ctx, { user: currentUser(request), code: request.body.code, meta: requestMeta(request) });
    return { message: 'MFA disabled' };
  });

  app.post('/auth/mfa/recovery-codes', {
    onRequest: authenticated,
    preHandler: codeCheck,
    schema: { tags, security, body: CodeBody, response: { 200: RecoveryCodesResponse } },
  }, async (request) => regenerateRecoveryCodes(ctx, { user: currentUser(request), code: request.body.code, meta: requestMeta(request) }));
};
