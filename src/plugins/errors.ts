// The one place where errors become HTTP replies, in FastAPI's shape: {"detail": ...}.
// Anything unexpected is logged and answered with a bare 500; stacks never leave the process.
// Replies echo no input: a detail is a fixed phrase or an issue list, never an error's message
// that might quote a path, a header or a body.
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import FindMyWay, { type HTTPMethod } from 'find-my-way';
import { isDatabaseUnavailable } from '../db/errors.js';
import { PLAIN_TEXT_KEYWORD, PLAIN_TEXT_MESSAGE } from '../http/schema-types.js';
import { AppError, Errors } from '../lib/errors.js';
import { COMMON_PASSWORD_MESSAGE, NOT_COMMON_PASSWORD_KEYWORD } from '../lib/password-policy.js';

interface ValidationIssue {
  loc: Array<string | number>;
  msg: string;
  type: string;
}

const LOCATION: Record<string, string> = { body: 'body', querystring: 'query', params: 'path', headers: 'header' };

export function registerErrorHandling(app: FastifyInstance): void {
  // 405 needs to know which paths exist for other methods; Fastify answers 404 for both.
  const knownRoutes = FindMyWay();
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat() as HTTPMethod[]) {
      if (method !== 'HEAD' && !knownRoutes.hasRoute(method, route.url)) knownRoutes.on(method, route.url, () => {});
    }
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]!;
    const otherMethods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].filter(
      (method) => method !== request.method && knownRoutes.find(method as 'GET', path) !== null,
    );
    if (otherMethods.length > 0) {
      return reply.code(405).header('Allow', otherMethods.join(', ')).send({ detail: 'Method Not Allowed' });
    }
    return reply.code(404).send({ detail: 'Not Found' });
  });

  app.setErrorHandler(handleError);
}

/**
 * Also Fastify's `frameworkErrors` option: what the router refuses before any route or hook
 * runs (a path that is not valid percent-encoding: 400; a path parameter over maxParamLength:
 * 414) gets the same shape instead of Fastify's own `{statusCode, code, error, message}`,
 * whose message quotes the path.
 */
export function handleError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const { status, body, headers } = toReply(error);
  if (status >= 500 && status !== 503) request.log.error({ err: error }, 'unhandled error');
  else if (status === 503) {
    const reason = isDatabaseUnavailable(error) ? 'database unavailable' : 'service unavailable';
    request.log.warn({ err: { message: error.message, code: error.code } }, reason);
  }
  return reply.code(status).headers(headers).send(body);
}

/**
 * Fastify's `clientErrorHandler` option: requests Node's HTTP parser refuses (bad header
 * bytes, broken chunked framing, oversized headers) never reach Fastify; answered here in the
 * contract's shape rather than Fastify's default body, then the connection is closed.
 */
export function handleClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const status = error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : error.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
  const body = JSON.stringify({ detail: fixedPhrase(status) });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

/** The detail of a 4xx that carries nothing more specific. */
const FIXED_PHRASES: Record<number, string> = { 413: Errors.bodyTooLarge().detail as string, 415: Errors.unsupportedMediaType().detail as string };
const fixedPhrase = (status: number): string => FIXED_PHRASES[status] ?? STATUS_CODES[status] ?? 'Bad Request';

export function toReply(error: FastifyError): { status: number; body: unknown; headers: Record<string, string> } {
  if (error instanceof AppError) return fromAppError(error);
  if (error.validation) {
    const where = LOCATION[error.validationContext ?? 'body'] ?? 'body';
    return { status: 422, body: { detail: error.validation.map((issue) => toIssue(where, issue)) }, headers: {} };
  }
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return unprocessable([{ loc: ['body'], msg: 'JSON decode error', type: 'json_invalid' }]);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return unprocessable([{ loc: ['body'], msg: 'Field required', type: 'missing' }]);
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, body: { detail: fixedPhrase(413) }, headers: {} };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, body: { detail: fixedPhrase(415) }, headers: {} };
  }
  if (error instanceof SyntaxError && error.statusCode === 400) {
    return unprocessable([{ loc: ['body'], msg: 'JSON decode error', type: 'json_invalid' }]);
  }
  if (isDatabaseUnavailable(error)) return fromAppError(Errors.serviceUnavailable());
  // Fastify's and plugins' own client errors (FST_ERR_BAD_URL, FST_ERR_MAX_PARAM_LENGTH,
  // content-length mismatches, multipart limits, …): their messages may quote the input.
  if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
    return { status: error.statusCode, body: { detail: fixedPhrase(error.statusCode) }, headers: {} };
  }
  return fromAppError(Errors.internal());
}

const fromAppError = (error: AppError) => ({
  status: error.statusCode,
  body: error.code === undefined ? { detail: error.detail } : { detail: error.detail, code: error.code },
  headers: error.headers,
});

const unprocessable = (detail: ValidationIssue[]) => ({ status: 422, body: { detail }, headers: {} });

interface AjvIssue {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message?: string;
}

function toIssue(where: string, issue: AjvIssue): ValidationIssue {
  const loc: Array<string | number> = [where];
  for (const part of issue.instancePath.split('/').slice(1)) {
    const key = part.replace(/~1/g, '/').replace(/~0/g, '~');
    loc.push(/^\d+$/.test(key) ? Number(key) : key);
  }
  switch (issue.keyword) {
    case 'required':
      loc.push(String(issue.params.missingProperty));
      return { loc, msg: 'Field required', type: 'missing' };
    case 'additionalProperties':
      loc.push(String(issue.params.additionalProperty));
      return { loc, msg: 'Extra inputs are not permitted', type: 'extra_forbidden' };
    case 'maxLength':
      return { loc, msg: `String should have at most ${issue.params.limit} characters`, type: 'string_too_long' };
    case 'minLength':
      return { loc, msg: `String should have at least ${issue.params.limit} characters`, type: 'string_too_short' };
    case NOT_COMMON_PASSWORD_KEYWORD:
      return { loc, msg: COMMON_PASSWORD_MESSAGE, type: 'password_too_common' };
    case PLAIN_TEXT_KEYWORD:
      return { loc, msg: PLAIN_TEXT_MESSAGE, type: 'string_control_characters' };
    case 'format':
      return { loc, msg: `value is not a valid ${issue.params.format}`, type: 'value_error' };
    case 'type':
      return { loc, msg: `Input should be a valid ${issue.params.type}`, type: `${String(issue.params.type).split(',')[0]}_type` };
    default:
      return { loc, msg: issue.message ?? 'Invalid value', type: 'value_error' };
  }
}
