// POST-redirect-GET: a form post answers with a redirect, and what the next page must show
// (the message, the field errors, what was typed except passwords) travels in a short-lived
// cookie read once. It holds nothing secret and is always rendered escaped: a forged one can
// only make its own browser show a wrong message.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../lib/errors.js';
import type { FieldErrors } from './form-validation.js';
import { pageText } from './page-text.js';

export interface PageState {
  /** Which form the state belongs to (the account page has several). */
  form?: string;
  values?: Record<string, string>;
  errors?: FieldErrors;
  /** An error for the whole form (role=alert). */
  message?: string;
  /** A confirmation (role=status). */
  notice?: string;
}

const STATE_COOKIE = 'keyhold_flash';
const MAX_BYTES = 3000;
/** Fields never carried back, whatever the form calls them. */
const SECRET_FIELD = /password|_csrf|token|code$/;

/** Where a form's answer sends the browser, what the next page shows, and whether the cookie is Secure. */
export interface StateRedirect {
  location: string;
  state: PageState;
  secure: boolean;
}

/** A refusal's redirect: `err` is the service's AppError; `state` what else the page shows. */
export interface ErrorRedirect {
  location: string;
  err: unknown;
  state: Omit<PageState, 'message' | 'errors'>;
  secure: boolean;
}

export function redirectWithState(reply: FastifyReply, { location, state, secure }: StateRedirect): FastifyReply {
  keepState(reply, state, secure);
  return reply.code(303).redirect(location);
}

/** Leaves `state` for the next page this browser shows (the passkey steps navigate by script). */
export function keepState(reply: FastifyReply, state: PageState, secure: boolean): void {
  const values = Object.fromEntries(Object.entries(state.values ?? {}).filter(([name]) => !SECRET_FIELD.test(name) || name === 'invite_code' || name === 'account_invite_code'));
  let encoded = Buffer.from(JSON.stringify({ ...state, values }), 'utf8').toString('base64url');
  if (encoded.length > MAX_BYTES) encoded = Buffer.from(JSON.stringify({ ...state, values: {} }), 'utf8').toString('base64url');
  reply.setCookie(STATE_COOKIE, encoded, { path: '/ui', httpOnly: true, sameSite: 'lax', secure, maxAge: 60 });
}

/** The state left by the previous post, once; an unreadable cookie is ignored. */
export function takeState(request: FastifyRequest, reply: FastifyReply, secure: boolean): PageState {
  const encoded = request.cookies[STATE_COOKIE];
  if (!encoded) return {};
  reply.clearCookie(STATE_COOKIE, { path: '/ui', httpOnly: true, sameSite: 'lax', secure });
  try {
    const state = JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8')) as PageState;
    return typeof state === 'object' && state !== null ? state : {};
  } catch {
    return {};
  }
}

/** A service refused the form: back to `location` with the API's message (anything else is rethrown). */
export function redirectWithError(reply: FastifyReply, { location, err, state, secure }: ErrorRedirect): FastifyReply {
  if (!(err instanceof AppError)) throw err;
  const { message, fields } = pageText(err);
  return redirectWithState(reply, { location, state: { ...state, message, errors: fields }, secure });
}
