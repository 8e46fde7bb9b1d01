// The second step of an MFA-enrolled user's sign-in (mfa-sign-in.ts): POST /auth/mfa/verify
// redeems the mfa_token, POST /auth/mfa/passkey/options asks for a passkey assertion for it.
// Registered right after the enrolment routes (mfa/mfa.routes.ts), under the same tag.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import type { AppContext } from '../../context.js';
import { requestMeta } from '../../plugins/authenticate.js';
import { sharedBudget } from '../../plugins/rate-limit.js';
import { MfaPasskeyOptionsResponse, MfaTokenBody, MfaVerifyBody } from '../mfa/mfa.schemas.js';
import { TokenResponse } from './auth.schemas.js';
import { mfaPasskeyOptions, verifyMfa } from './mfa-sign-in.js';

export const mfaSignInRoutes: FastifyPluginAsyncTypebox<{ ctx: AppContext }> = async (app, { ctx }) => {
  const tags = ['mfa'];

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
