// The one place where errors become API replies, in FastAPI's shape plus a stable code:
// {"detail": ..., "code": ...} (lib/errors.ts lists the codes). `toAppError` is also how the
// hosted pages classify what they catch, so both speak of one set of codes.
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
      return sendAppError(reply, Errors.methodNotAllowed(otherMethods));
    }
    return sendAppError(reply, Errors.notFound());
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
  const refusal = toAppError(error);
  const status = refusal.statusCode;
  if (status >= 500 && status !== 503) request.log.error({ err: error }, 'unhandled error');
  else if (status === 503) {
    const reason = isDatabaseUnavailable(error) ? 'database unavailable' : 'service unavailable';
    request.log.warn({ err: { message: error.message, code: error.code } }, reason);
  }
  return sendAppError(reply, refusal);
}

/** The reply body of a refusal: its detail, its code, and any further members it carries. */
export const replyBody = (error: AppError, detail: unknown = error.detail): Record<string, unknown> => ({ detail, code: error.code, ...error.extra });

const sendAppError = (reply: FastifyReply, error: AppError): FastifyReply =>
  reply.code(error.statusCode).headers(error.headers).send(replyBody(error));

/**
 * Fastify's `clientErrorHandler` option: requests Node's HTTP parser refuses (bad header
 * bytes, broken chunked framing, oversized headers) never reach Fastify; answered here in the
 * contract's shape rather than Fastify's default body, then the connection is closed.
 */
export function handleClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const status = error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : error.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
  const body = JSON.stringify(replyBody(Errors.requestRefused(status)));
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

/** Any error as the catalogue error it is answered with (anything unexpected: `internal`). */
export function toAppError(error: FastifyError | Error): AppError {
  if (error instanceof AppError) return error;
  const { validation, validationContext, code, statusCode } = error as FastifyError;
  if (validation) {
    const where = LOCATION[validationContext ?? 'body'] ?? 'body';
    return unprocessable(validation.map((issue) => toIssue(where, issue)));
  }
  switch (code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return unprocessable([{ loc: ['body'], msg: 'JSON decode error', type: 'json_invalid' }]);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return unprocessable([{ loc: ['body'], msg: 'Field required', type: 'missing' }]);
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return Errors.bodyTooLarge();
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return Errors.unsupportedMediaType();
  }
  if (error instanceof SyntaxError && statusCode === 400) {
    return unprocessable([{ loc: ['body'], msg: 'JSON decode error', type: 'json_invalid' }]);
  }
  if (isDatabaseUnavailable(error)) return Errors.serviceUnavailable();
  // Fastify's and plugins' own client errors (FST_ERR_BAD_URL, FST_ERR_MAX_PARAM_LENGTH,
  // content-length mismatches, multipart limits, …): their messages may quote the input.
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) return Errors.requestRefused(statusCode);
  return Errors.internal();
}

const unprocessable = (issues: ValidationIssue[]): AppError => new AppError({ status: 422, code: 'validation_failed', detail: issues });

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
