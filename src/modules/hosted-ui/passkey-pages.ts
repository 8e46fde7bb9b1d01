// The passkey steps of the sign-in pages: a passkey as the first factor (/ui/passkey/*) and as
// the second (/ui/mfa/passkey*), as JSON steps (json-steps.ts): the options first, then the
// credential, answered with where the browser goes next. Each shares its budget with the API
// route it stands for.
import { isIP } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import type { AppContext } from '../../context.js';
import { Errors } from '../../lib/errors.js';
import { requestMeta } from '../../plugins/authenticate.js';
import { sharedBudget } from '../../plugins/rate-limit.js';
import { WebAuthnCredentialJson } from '../mfa/mfa.schemas.js';
import { mfaPasskeyOptions, verifyMfa } from '../mfa/mfa-sign-in.js';
import { PasskeyLoginBody } from '../passkeys/passkeys.schemas.js';
import { passkeyLoginOptions, signInWithPasskey } from '../passkeys/passkeys.service.js';
import { errorMessage, formField, matchesSchema } from './form-validation.js';
import type { PageContext } from './hosted-ui.plugin.js';
import { scriptOnly, unreadableStep } from './json-steps.js';
import { keepState } from './page-state.js';
import { isDeadMfaToken, MFA_COOKIE, safeNext, signInFinisher } from './sign-in-finish.js';

/**
 * Whether the pages can offer passkeys: browsers refuse an IP address as RP ID, and the
 * pages' own origin must be one the ceremonies are accepted from (it is not when the RP ID
 * comes from a FRONTEND_URL on another domain).
 */
export function passkeysOffered(ctx: Pick<AppContext, 'config'>): boolean {
  const { rpId, origins } = ctx.config.webauthn;
  return isIP(rpId) === 0 && origins.includes(new URL(ctx.config.publicUrl).origin);
}

export async function passkeySignInPages(app: FastifyInstance, pages: PageContext): Promise<void> {
  const { ctx, secure } = pages;
  const { settle, clearMfa } = signInFinisher(pages);
  const fromSignIn = scriptOnly('/ui/sign-in', secure);
  const fromMfa = scriptOnly('/ui/mfa', secure);

  app.post('/passkey/options', { onRequest: sharedBudget('passkey-login-options'), preHandler: fromSignIn, schema: { hide: true } }, async () =>
    passkeyLoginOptions(ctx),
  );

  app.post('/passkey/sign-in', { onRequest: sharedBudget('passkey-login'), preHandler: fromSignIn, schema: { hide: true } }, async (request, reply) => {
    const body = request.body as { challenge_id?: unknown; response?: unknown };
    const input = { challenge_id: body.challenge_id, response: body.response };
    if (!matchesSchema(PasskeyLoginBody, input)) throw unreadableStep();
    const result = await signInWithPasskey(ctx, input as { challenge_id: string; response: AuthenticationResponseJSON }, requestMeta(request));
    return { location: await settle(request, reply, result, safeNext(formField(request.body, 'next'))) };
  });

  app.post('/mfa/passkey/options', { onRequest: sharedBudget('mfa-passkey-options'), preHandler: fromMfa, schema: { hide: true } }, async (request) => {
    const mfaToken = request.cookies[MFA_COOKIE];
    if (!mfaToken) throw Errors.invalidOrExpiredMfaToken();
    return mfaPasskeyOptions(ctx, mfaToken);
  });

  app.post('/mfa/passkey', { onRequest: sharedBudget('mfa-verify'), preHandler: fromMfa, schema: { hide: true } }, async (request, reply) => {
    const response = (request.body as { response?: unknown }).response;
    if (!matchesSchema(WebAuthnCredentialJson, response)) throw unreadableStep();
    try {
      const mfaToken = request.cookies[MFA_COOKIE];
      if (!mfaToken) throw Errors.invalidOrExpiredMfaToken();
      const tokens = await verifyMfa(ctx, { mfa_token: mfaToken, passkey_response: response as AuthenticationResponseJSON }, requestMeta(request));
      return { location: await settle(request, reply, tokens, safeNext(formField(request.body, 'next'))) };
    } catch (err) {
      // A dead token (expired, or killed by the 5th failure) sends the user back to the first
      // factor, as the code form does.
      if (!isDeadMfaToken(err)) throw err;
      clearMfa(reply);
      keepState(reply, { message: errorMessage(err).message }, secure);
      return reply.code(err.statusCode).send({ detail: err.message, location: '/ui/sign-in' });
    }
  });
}
