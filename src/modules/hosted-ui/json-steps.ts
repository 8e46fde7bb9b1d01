// The pages' JSON steps: the routes views/hosted-ui/assets/passkey.js calls for a WebAuthn
// ceremony (passkey-pages.ts, passkey-sections.ts). They take JSON with the page's CSRF token
// in the body, as a form has it, and answer {location} (where the browser goes next) or
// {detail} (the API's message; the plugin's error handler answers JSON for them too).
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../lib/errors.js';
import { keepState, redirectWithState } from './page-state.js';

export const isJsonRequest = (request: FastifyRequest): boolean => request.headers['content-type']?.startsWith('application/json') ?? false;

/**
 * A preHandler for a JSON step: a form post to it means the script did not run (JavaScript is
 * off, or the name field was submitted by Enter), so the browser goes back to `location`, told why.
 */
export function scriptOnly(location: string, secure: boolean, form?: string) {
  return async function requireScript(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | void> {
    if (isJsonRequest(request)) return;
    return redirectWithState(reply, location, { form, message: 'Passkeys need JavaScript. Turn it on for this site, or use another way to sign in.' }, secure);
  };
}

/** A preHandler for a signed-in JSON step: a browser whose session has ended is sent to sign in. */
export function signedInStep(secure: boolean) {
  return async function requireSignedIn(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | void> {
    if (request.pageUser) return;
    keepState(reply, { message: 'Your session has ended. Sign in again.' }, secure);
    return reply.code(401).send({ detail: 'Your session has ended. Sign in again.', location: '/ui/sign-in?next=/ui/account' });
  };
}

/** A 400 for a body that is not what the script sends. */
export const unreadableStep = (): AppError => new AppError(400, 'The passkey response could not be read. Try again.');
