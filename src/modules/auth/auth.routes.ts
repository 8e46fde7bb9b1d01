// Registration, sign-in, sessions and the profile: /auth/register, /auth/login[/json],
// /auth/refresh, /auth/logout, /auth/me.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AppContext } from '../../context.js';
import { Message } from '../../http/schema-types.js';
import { currentUser, requestMeta, requireUser } from '../../plugins/authenticate.js';
import { perMinute, sharedBudget } from '../../plugins/rate-limit.js';
import { refreshSession, logout } from '../sessions/sessions.service.js';
import { toUserResponse, UserResponse } from '../users/user.schemas.js';
import { LoginForm, LoginJsonBody, RefreshTokenBody, RegisterBody, SignInResponse, TokenResponse, UpdateProfileBody } from './auth.schemas.js';
import { login } from './login.service.js';
import { updateProfile } from './profile.service.js';
import { register } from './registration.service.js';

export const authRoutes: FastifyPluginAsyncTypebox<{ ctx: AppContext }> = async (app, { ctx }) => {
  const authenticated = requireUser(ctx);
  const tags = ['auth'];
  const bearer = [{ bearer: [] }];

  app.post('/auth/register', {
    config: perMinute(3),
    schema: { tags, body: RegisterBody, response: { 201: UserResponse } },
  }, async (request, reply) => {
    const user = await register(ctx, request.body, requestMeta(request));
    return reply.code(201).send(toUserResponse(user));
  });

  // The budget is spent in preHandler, after the body is read and validated: a request refused
  // before its handler (415, 422, malformed JSON) is no password guess, as in the original.
  app.post('/auth/login', {
    preHandler: sharedBudget('login'),
    schema: { tags, consumes: ['application/x-www-form-urlencoded', 'multipart/form-data'], body: LoginForm, response: { 200: SignInResponse } },
  }, async (request) => login(ctx, { email: request.body.username, password: request.body.password, meta: requestMeta(request) }));

  app.post('/auth/login/json', {
    preHandler: sharedBudget('login'),
    schema: { tags, body: LoginJsonBody, response: { 200: SignInResponse } },
  }, async (request) => login(ctx, { email: request.body.email, password: request.body.password, meta: requestMeta(request) }));

  app.post('/auth/refresh', {
    config: perMinute(10),
    schema: { tags, body: RefreshTokenBody, response: { 200: TokenResponse } },
  }, async (request) => refreshSession(ctx, request.body.refresh_token, requestMeta(request)));

  app.post('/auth/logout', {
    schema: { tags, body: RefreshTokenBody, response: { 200: Message } },
  }, async (request) => {
    await logout(ctx, request.body.refresh_token, requestMeta(request));
    return { message: 'Successfully logged out' };
  });

  app.get('/auth/me', {
    onRequest: authenticated,
    schema: { tags, security: bearer, response: { 200: UserResponse } },
  }, async (request) => toUserResponse(currentUser(request)));

  app.patch('/auth/me', {
    onRequest: authenticated,
    // Only a request that carries the password has it checked, and only that one counts.
    preHandler: sharedBudget('password-check', (request) => typeof (request.body as { current_password?: unknown }).current_password === 'string'),
    schema: { tags, security: bearer, body: UpdateProfileBody, response: { 200: UserResponse } },
  }, async (request) => toUserResponse(await updateProfile(ctx, { user: currentUser(request), changes: request.body, meta: requestMeta(request) })));
};
