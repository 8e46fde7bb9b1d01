// The passkey steps of the sign-in pages: a passkey as the first factor (/ui/passkey/*) and as
// the second (/ui/mfa/passkey*), as JSON steps (json-steps.ts): the options first, then the
// credential, answered with where the browser goes next. Each shares its budget with the API
// route it stands for, spent once the request is a real attempt (after the CSRF check).
import { isIP } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import type { AppContext } from '../../context.js';
import { Errors } from '../../lib/errors.js';
import { requestMeta } from '../../plugins/authenticate.js';
import { sharedBudget } from '../../plugins/rate-limit.js';
import { WebAuthnCredentialJson } from '../mfa/mfa.schemas.js';
import { mfaPasskeyOptions, verifyMfa } from '../auth/mfa-sign-in.js';
import { PasskeyLoginBody } from '../passkeys/passkeys.schemas.js';
import { passkeyLoginOptions, signInWithPasskey } from '../auth/passkey-sign-in.js';
import { formField, matchesSchema } from './form-validation.js';
import { pageText } from './page-text.js';
import type { PageContext } from './page-context.js';
import { scriptOnly } from './json-steps.js';
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

  app.post('/passkey/options', { preHandler: [fromSignIn, sharedBudget('passkey-login-options')], schema: { hide: true } }, async () =>
    passkeyLoginOptions(ctx),
  );

  app.post('/passkey/sign-in', { preHandler: [fromSignIn, sharedBudget('passkey-login')], schema: { hide: true } }, async (request, reply) => {
    const body = request.body as { challenge_id?: unknown; response?: unknown };
    const input = { challenge_id: body.challenge_id, response: body.response };
    if (!matchesSchema(PasskeyLoginBody, input)) throw Errors.passkeyResponseUnreadable();
    const result = await signInWithPasskey(ctx, input as { challenge_id: string; response: AuthenticationResponseJSON }, requestMeta(request));
    return { location: await settle(request, reply, { result, next: safeNext(formField(request.body, 'next')) }) };
  });

  app.post('/mfa/passkey/options', { preHandler: [fromMfa, sharedBudget('mfa-passkey-options')], schema: { hide: true } }, async (request) => {
    const mfaToken = request.cookies[MFA_COOKIE];
    if (!mfaToken) throw Errors.invalidOrExpiredMfaToken();
    return mfaPasskeyOptions(ctx, mfaToken);
  });

  app.post('/mfa/passkey', { preHandler: [fromMfa, sharedBudget('mfa-verify')], schema: { hide: true } }, async (request, reply) => {
    const response = (request.body as { response?: unknown }).response;
    if (!matchesSchema(WebAuthnCredentialJson, response)) throw Errors.passkeyResponseUnreadable();
    try {
      const mfaToken = request.cookies[MFA_COOKIE];
      if (!mfaToken) throw Errors.invalidOrExpiredMfaToken();
      const tokens = await verifyMfa(ctx, { mfa_token: mfaToken, passkey_response: response as AuthenticationResponseJSON }, requestMeta(request));
      return { location: await settle(request, reply, { result: tokens, next: safeNext(formField(request.body, 'next')) }) };
    } catch (err) {
      // A dead token (expired, or killed by the 5th failure) sends the user back to the first
      // factor, as the code form does.
      if (!isDeadMfaToken(err)) throw err;
      clearMfa(reply);
      keepState(reply, { message: pageText(err).message }, secure);
      throw err.with({ location: '/ui/sign-in' });
    }
  });
}
