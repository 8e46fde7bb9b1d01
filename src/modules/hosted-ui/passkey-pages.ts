// The passkey steps of the sign-in pages: a passkey as the first factor (/ui/passkey/*) and as
// the second (/ui/mfa/passkey*). The WebAuthn ceremony runs in the browser
// (views/hosted-ui/assets/passkey.js, the pages' only script), so these routes take JSON and
// answer JSON: the options first, then the credential, answered with where the browser goes
// next. The CSRF token comes in the body as a form's does; the limits are the API routes'.
import { isIP } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import type { AppContext } from '../../context.js';
import { AppError, Errors } from '../../lib/errors.js';
import { requestMeta } from '../../plugins/authenticate.js';
import { perMinute } from '../../plugins/rate-limit.js';
import { mfaPasskeyOptions, verifyMfa } from '../mfa/mfa-sign-in.js';
import { PasskeyLoginBody } from '../passkeys/passkeys.schemas.js';
import { passkeyLoginOptions, signInWithPasskey } from '../passkeys/passkeys.service.js';
import { WebAuthnCredentialJson } from '../mfa/mfa.schemas.js';
import { errorMessage, formField, matchesSchema } from './form-validation.js';
import type { PageContext } from './hosted-ui.plugin.js';
import { keepState, redirectWithState } from './page-state.js';
import { MFA_COOKIE, safeNext, signInFinisher } from './sign-in-finish.js';

/** Browsers refuse an IP address as RP ID (pages served at http://127.0.0.1 get no passkey offer). */
export const passkeysAvailable = (ctx: Pick<AppContext, 'config'>): boolean => isIP(ctx.config.webauthn.rpId) === 0;

/** A passkey step's body is JSON (the script's); a form post means the script did not run. */
export const isJsonRequest = (request: FastifyRequest): boolean => request.headers['content-type']?.startsWith('application/json') ?? false;

/** Where a form post to a passkey step lands: back to its page, saying what it needs. */
export function needsScript(reply: FastifyReply, location: string, form: string | undefined, secure: boolean): FastifyReply {
  return redirectWithState(reply, location, { form, message: 'Passkeys need JavaScript. Turn it on for this site, or use another way.' }, secure);
}

/** A 400 for a body that is not what the script sends. */
export const unreadableStep = (): AppError => new AppError(400, 'The passkey response could not be read. Try again.');

export async function passkeySignInPages(app: FastifyInstance, pages: PageContext): Promise<void> {
  const { ctx, secure } = pages;
  const { settle, clearMfa } = signInFinisher(pages);

  app.post('/passkey/options', { config: perMinute(30), schema: { hide: true } }, async (request, reply) => {
    if (!isJsonRequest(request)) return needsScript(reply, '/ui/sign-in', undefined, secure);
    return passkeyLoginOptions(ctx);
  });

  app.post('/passkey/sign-in', { config: perMinute(10), schema: { hide: true } }, async (request, reply) => {
    if (!isJsonRequest(request)) return needsScript(reply, '/ui/sign-in', undefined, secure);
    const body = request.body as { challenge_id?: unknown; response?: unknown };
    const input = { challenge_id: body.challenge_id, response: body.response };
    if (!matchesSchema(PasskeyLoginBody, input)) throw unreadableStep();
    const result = await signInWithPasskey(ctx, input as { challenge_id: string; response: AuthenticationResponseJSON }, requestMeta(request));
    return { location: await settle(reply, result, safeNext(formField(request.body, 'next'))) };
  });

  app.post('/mfa/passkey/options', { config: perMinute(10), schema: { hide: true } }, async (request, reply) => {
    if (!isJsonRequest(request)) return needsScript(reply, '/ui/mfa', undefined, secure);
    const mfaToken = request.cookies[MFA_COOKIE];
    if (!mfaToken) throw Errors.invalidOrExpiredMfaToken();
    return mfaPasskeyOptions(ctx, mfaToken);
  });

  // As POST /auth/mfa/verify with a passkey_response (its limit too).
  app.post('/mfa/passkey', { config: perMinute(5), schema: { hide: true } }, async (request, reply) => {
    if (!isJsonRequest(request)) return needsScript(reply, '/ui/mfa', undefined, secure);
    const mfaToken = request.cookies[MFA_COOKIE] ?? '';
    const response = (request.body as { response?: unknown }).response;
    if (!matchesSchema(WebAuthnCredentialJson, response)) throw unreadableStep();
    try {
      if (!mfaToken) throw Errors.invalidOrExpiredMfaToken();
      const tokens = await verifyMfa(ctx, { mfa_token: mfaToken, passkey_response: response as AuthenticationResponseJSON }, requestMeta(request));
      return { location: await settle(reply, tokens, safeNext(formField(request.body, 'next'))) };
    } catch (err) {
      // A dead token (expired, or killed by the 5th failure) sends the user back to the first
      // factor, as the code form does.
      if (err instanceof AppError && err.message === Errors.invalidOrExpiredMfaToken().message) {
        clearMfa(reply);
        keepState(reply, { message: errorMessage(err).message }, secure);
        return reply.code(err.statusCode).send({ detail: err.message, location: '/ui/sign-in' });
      }
      throw err;
    }
  });
}
