// The one place where errors become HTTP replies, in FastAPI's shape: {"detail": ...}.
// Anything unexpected is logged and answered with a bare 500; stacks never leave the process.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import FindMyWay, { type HTTPMethod } from 'find-my-way';
import { isDatabaseUnavailable } from '../db/errors.js';
import { AppError } from '../lib/errors.js';
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

  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const { status, body, headers } = toReply(error);
    if (status >= 500 && status !== 503) request.log.error({ err: error }, 'unhandled error');
    else if (status === 503) {
      const reason = isDatabaseUnavailable(error) ? 'database unavailable' : 'service unavailable';
      request.log.warn({ err: { message: error.message, code: error.code } }, reason);
    }
    return reply.code(status).headers(headers).send(body);
  });
}

function toReply(error: FastifyError): { status: number; body: unknown; headers: Record<string, string> } {
  if (error instanceof AppError) return { status: error.statusCode, body: { detail: error.detail }, headers: error.headers };
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
      return { status: 413, body: { detail: 'Request body too large' }, headers: {} };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, body: { detail: 'Unsupported media type' }, headers: {} };
  }
  if (error instanceof SyntaxError && error.statusCode === 400) {
    return unprocessable([{ loc: ['body'], msg: 'JSON decode error', type: 'json_invalid' }]);
  }
  if (isDatabaseUnavailable(error)) return { status: 503, body: { detail: 'Service unavailable' }, headers: { 'Retry-After': '5' } };
  if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
    return { status: error.statusCode, body: { detail: error.message }, headers: {} };
  }
  return { status: 500, body: { detail: 'Internal server error' }, headers: {} };
}

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
    case 'format':
      return { loc, msg: `value is not a valid ${issue.params.format}`, type: 'value_error' };
    case 'type':
      return { loc, msg: `Input should be a valid ${issue.params.type}`, type: `${String(issue.params.type).split(',')[0]}_type` };
    default:
      return { loc, msg: issue.message ?? 'Invalid value', type: 'value_error' };
  }
}
