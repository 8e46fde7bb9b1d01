// Multi-factor authentication: TOTP enrolment (/auth/mfa/totp/*, /auth/mfa/recovery-codes),
// the second step of a sign-in (/auth/mfa/verify, /auth/mfa/passkey/options), and the admin's
// reset (/admin/users/{id}/mfa/reset).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import type { AppContext } from '../../context.js';
import { Message } from '../../http/schema-types.js';
import { currentSessionId, currentUser, requestMeta, requireAdmin, requireUser } from '../../plugins/authenticate.js';
import { perMinute, sharedBudget } from '../../plugins/rate-limit.js';
import { TokenResponse } from '../auth/auth.schemas.js';
import { UserParams } from '../../http/request-params.js';
import { toUserResponse, UserResponse } from '../users/user.schemas.js';
import { mfaPasskeyOptions, verifyMfa } from './mfa-sign-in.js';
import { CodeBody, MfaPasskeyOptionsResponse, MfaTokenBody, MfaVerifyBody, RecoveryCodesResponse, TotpSetupResponse } from './mfa.schemas.js';
import { disableTotp, enableTotp, regenerateRecoveryCodes, resetUserMfa, setupTotp } from './mfa.service.js';

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

  app.post('/auth/mfa/verify', {
    onRequest: sharedBudget('mfa-verify'),
    schema: { tags, body: MfaVerifyBody, response: { 200: TokenResponse } },
  }, async (request) => {
    const body = request.body;
    return verifyMfa(ctx, { ...body, passkey_response: body.passkey_response as AuthenticationResponseJSON | undefined }, requestMeta(request));
  });

  app.post('/auth/mfa/passkey/options', {
    onRequest: sharedBudget('mfa-passkey-options'),
    schema: { tags, body: MfaTokenBody, response: { 200: MfaPasskeyOptionsResponse } },
  }, async (request) => mfaPasskeyOptions(ctx, request.body.mfa_token));
};

export const mfaAdminRoutes: FastifyPluginAsyncTypebox<{ ctx: AppContext }> = async (app, { ctx }) => {
  app.addHook('onRequest', requireAdmin(ctx));
  app.post('/admin/users/:id/mfa/reset', {
    schema: { tags: ['admin'], security: [{ bearer: [] }], params: UserParams, response: { 200: UserResponse } },
  }, async (request) => toUserResponse(await resetUserMfa(ctx, { adminId: currentUser(request).id, userId: request.params.id, meta: requestMeta(request) })));
};
