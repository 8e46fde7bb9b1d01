// The pages' JSON steps: the routes views/hosted-ui/assets/passkey.js calls for a WebAuthn
// ceremony (passkey-pages.ts, passkey-sections.ts). They take JSON with the page's CSRF token
// in the body, as a form has it, and answer {location} (where the browser goes next) or
// {detail, code} (the refusal in the pages' words, page-text.ts; the plugin's error handler
// answers JSON for them).
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Errors } from '../../lib/errors.js';
import { keepState, redirectWithState } from './page-state.js';

export const isJsonRequest = (request: FastifyRequest): boolean => request.headers['content-type']?.startsWith('application/json') ?? false;

/**
 * A preHandler for a JSON step: a form post to it means the script did not run (JavaScript is
 * off, or the name field was submitted by Enter), so the browser goes back to `location`, told why.
 */
export function scriptOnly(location: string, secure: boolean, form?: string) {
  return async function requireScript(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | void> {
    if (isJsonRequest(request)) return;
    return redirectWithState(reply, { location, state: { form, message: 'Passkeys need JavaScript. Turn it on for this site, or use another way to sign in.' }, secure });
  };
}

/** A preHandler for a signed-in JSON step: a browser whose session has ended is sent to sign in. */
export function signedInStep(secure: boolean) {
  return async function requireSignedIn(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | void> {
    if (request.pageUser) return;
    const ended = Errors.pageSessionEnded('/ui/sign-in?next=/ui/account');
    keepState(reply, { message: ended.message }, secure);
    throw ended;
  };
}
