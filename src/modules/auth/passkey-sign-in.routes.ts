// Passwordless sign-in with a passkey (passkey-sign-in.ts): POST /auth/passkeys/login/options
// and /auth/passkeys/login/verify. Registered right after the passkey management routes
// (passkeys/passkeys.routes.ts), under the same tag.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import type { AppContext } from '../../context.js';
import { requestMeta } from '../../plugins/authenticate.js';
import { sharedBudget } from '../../plugins/rate-limit.js';
import { PasskeyLoginBody, PasskeyLoginOptionsResponse } from '../passkeys/passkeys.schemas.js';
import { SignInResponse } from './auth.schemas.js';
import { passkeyLoginOptions, signInWithPasskey } from './passkey-sign-in.js';

export const passkeySignInRoutes: FastifyPluginAsyncTypebox<{ ctx: AppContext }> = async (app, { ctx }) => {
  const tags = ['passkeys'];

  app.post('/auth/passkeys/login/options', {
    // Each call stores a row; the limit keeps an anonymous caller from filling the table.
    onRequest: sharedBudget('passkey-login-options'),
    schema: { tags, response: { 200: PasskeyLoginOptionsResponse } },
  }, async () => passkeyLoginOptions(ctx));

  app.post('/auth/passkeys/login/verify', {
    onRequest: sharedBudget('passkey-login'),
    schema: { tags, body: PasskeyLoginBody, response: { 200: SignInResponse } },
  }, async (request) => {
    const body = { challenge_id: request.body.challenge_id, response: request.body.response as unknown as AuthenticationResponseJSON };
    return signInWithPasskey(ctx, body, requestMeta(request));
  });
};
