// Passkeys: registration and management by a signed-in user (/auth/passkeys…). Passwordless
// sign-in (/auth/passkeys/login/…) is the sign-in's (auth/passkey-sign-in.routes.ts).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { RegistrationResponseJSON } from '@simplewebauthn/server';
import type { AppContext } from '../../context.js';
import { Message } from '../../http/schema-types.js';
import { currentSessionId, currentUser, requestMeta, requireUser } from '../../plugins/authenticate.js';
import { sharedBudget } from '../../plugins/rate-limit.js';
import {
  FactorChangeBody,
  PasskeyParams,
  PasskeyResponse,
  RegisterPasskeyBody,
  RenamePasskeyBody,
  WebAuthnOptions,
} from './passkeys.schemas.js';
import {
  deleteUserPasskey,
  registerPasskey,
  registrationOptions,
  renameUserPasskey,
  userPasskeys,
} from './passkeys.service.js';

export const passkeyRoutes: FastifyPluginAsyncTypebox<{ ctx: AppContext }> = async (app, { ctx }) => {
  const authenticated = requireUser(ctx);
  const tags = ['passkeys'];
  const security = [{ bearer: [] }];

  // A user without a body to send (no MFA, or an aal2 session) sends none: no body is an empty one.
  const emptyBody = async (request: FastifyRequest) => {
    request.body ??= {};
  };
  // A request that carries a code has it checked, and counts like any check.
  const codeCheck = sharedBudget('password-check', (request) => typeof (request.body as { code?: unknown } | undefined)?.code === 'string');
  const proofOf = (request: FastifyRequest & { body: FactorChangeBody }) => ({ sessionId: currentSessionId(request), code: request.body.code });

  app.post('/auth/passkeys/register/options', {
    onRequest: [authenticated, sharedBudget('passkey-register-options')],
    preValidation: emptyBody,
    preHandler: codeCheck,
    schema: { tags, security, body: FactorChangeBody, response: { 200: WebAuthnOptions } },
  }, async (request) => registrationOptions(ctx, { user: currentUser(request), request: proofOf(request), meta: requestMeta(request) }));

  app.post('/auth/passkeys/register/verify', {
    onRequest: [authenticated, sharedBudget('passkey-register')],
    schema: { tags, security, body: RegisterPasskeyBody, response: { 201: PasskeyResponse } },
  }, async (request, reply) => {
    const body = { response: request.body.response as unknown as RegistrationResponseJSON, name: request.body.name };
    return reply.code(201).send(await registerPasskey(ctx, { user: currentUser(request), body, session: { sessionId: currentSessionId(request) }, meta: requestMeta(request) }));
  });

  app.get('/auth/passkeys', {
    onRequest: authenticated,
    schema: { tags, security, response: { 200: Type.Array(PasskeyResponse) } },
  }, async (request) => userPasskeys(ctx, currentUser(request)));

  app.patch('/auth/passkeys/:id', {
    onRequest: authenticated,
    schema: { tags, security, params: PasskeyParams, body: RenamePasskeyBody, response: { 200: PasskeyResponse } },
  }, async (request) => renameUserPasskey(ctx, { user: currentUser(request), id: request.params.id, name: request.body.name, meta: requestMeta(request) }));

  app.delete('/auth/passkeys/:id', {
    onRequest: authenticated,
    preValidation: emptyBody,
    preHandler: codeCheck,
    schema: { tags, security, params: PasskeyParams, body: FactorChangeBody, response: { 200: Message } },
  }, async (request) => {
    await deleteUserPasskey(ctx, { user: currentUser(request), id: request.params.id, request: proofOf(request), meta: requestMeta(request) });
    return { message: 'Passkey deleted' };
  });
};
