// What a request body may be, and what its strings may hold, decided before any route reads it.
//
// Bodies: JSON, and URL-encoded or multipart forms. Any other type (text/plain too, which
// Fastify would otherwise read as a string) is 415, and so are JSON labelled with a charset
// other than UTF-8 (RFC 8259 allows no other, and the parser would silently mis-read it) and a
// request with two Content-Type headers (which one a proxy believed is anyone's guess). Form
// charset labels stay unchecked, as before: older OAuth2 clients label plain-ASCII password
// forms ISO-8859-1. Forms are read only where a route lists them in `consumes` (the OAuth2
// password form of POST /auth/login) or declares no body schema (the hosted pages' forms): an
// API route whose body schema is JSON answers a form 415 (contract: "Errors: stable codes").
// Multipart is read only where a route lists it in `consumes` and is 415 elsewhere, before a
// byte of it is parsed; a
// multipart body that does not parse (no or bad boundary, broken framing) is 422, as malformed
// JSON is, never the parser's own error (a 500 with a stack in the log).
//
// Strings: PostgreSQL text cannot hold NUL, nor can jsonb hold a lone UTF-16 surrogate, and no
// field of this API has a use for either: refuse them at the door (422) rather than letting
// the database answer with a 500 or store a mangled character.
import formbody from '@fastify/formbody';
import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyReply, FastifyRequest, RequestPayload } from 'fastify';
import { AppError, Errors, validationError } from '../lib/errors.js';

const MAX_DEPTH = 32;

const isUnstorable = (value: string): boolean => value.includes('\u0000') || !value.isWellFormed();

function findUnstorable(value: unknown, path: Array<string | number>, depth = 0): Array<string | number> | null {
  if (depth > MAX_DEPTH) return path;
  if (typeof value === 'string') return isUnstorable(value) ? path : null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findUnstorable(value[i], [...path, i], depth + 1);
      if (found) return found;
    }
    return null;
  }
  if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (isUnstorable(key)) return [...path, key];
      const found = findUnstorable(item, [...path, key], depth + 1);
      if (found) return found;
    }
  }
  return null;
}

/** Must be registered before the routes: it attaches itself to each route that takes input. */
export function registerInputGuard(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    const schema = route.schema ?? {};
    const methods = [route.method].flat();
    const takesBody = methods.some((method) => method !== 'GET' && method !== 'HEAD');
    const takesParams = schema.params !== undefined || route.url.includes(':');
    // A route with no body, query or path parameters reads no input (GET /auth/me, the hot path).
    if (!takesBody && !takesParams && !schema.querystring) return;
    route.preValidation = [guardInput, ...[route.preValidation ?? []].flat()];
  });
}

function guardInput(request: FastifyRequest, _reply: FastifyReply, done: (err?: Error) => void): void {
  for (const [where, value] of [['body', request.body], ['query', request.query], ['path', request.params]] as const) {
    const path = findUnstorable(value, [where]);
    if (path) return done(validationError(path, 'String must not contain NUL characters or unpaired surrogates', 'string_pattern_mismatch'));
  }
  done();
}

const JSON_TYPE = 'application/json';
const MULTIPART = 'multipart/form-data';
const FORM = 'application/x-www-form-urlencoded';
const UTF8_CHARSETS = new Set(['utf-8', 'utf8']);
const CHARSET_PARAMETER = /;\s*charset\s*=\s*"?([^";\s]*)/i;

const malformedMultipart = (): AppError => validationError(['body'], 'Multipart form decode error', 'multipart_invalid');

/** Registers the body parsers the API accepts, with the checks above; before the routes. */
export async function registerBodyParsers(app: FastifyInstance): Promise<void> {
  app.removeContentTypeParser('text/plain');
  await app.register(formbody);
  // OAuth2 password-form clients (FastAPI's OAuth2PasswordRequestForm) may post multipart
  // form data: fields only, small, never files. Fields are read by readMultipartFields, not
  // the plugin's attachFieldsToBody, so that a broken body becomes a 422.
  await app.register(multipart, {
    limits: { files: 0, fileSize: 0, fields: 16, fieldSize: 4096, parts: 16, fieldNameSize: 100 },
  });
  // Before any route-level hook, as the plugin's own attachFieldsToBody hook was: the input
  // guard then checks multipart fields like any other body.
  app.addHook('preValidation', readMultipartFields);
  // Only on routes that take a body: Fastify reads none for GET/HEAD, and GET /auth/me (the
  // hot path) keeps no preParsing hook at all.
  app.addHook('onRoute', (route) => {
    if ([route.method].flat().every((method) => method === 'GET' || method === 'HEAD')) return;
    route.preParsing = [refuseUnreadableBody, ...[route.preParsing ?? []].flat()];
  });
}

type PreParsingDone = (err: Error | null, payload?: RequestPayload) => void;

function refuseUnreadableBody(request: FastifyRequest, _reply: FastifyReply, payload: RequestPayload, done: PreParsingDone): void {
  const header = request.headers['content-type'];
  // No type: Fastify reads an empty body as none, and refuses a body without a type (415).
  if (header === undefined) return done(null, payload);
  if (countHeaders(request.raw.rawHeaders, 'content-type') > 1) return done(Errors.unsupportedMediaType());
  const mediaType = request.mediaType;
  const charset = CHARSET_PARAMETER.exec(header)?.[1]?.toLowerCase();
  if (mediaType === JSON_TYPE && charset !== undefined && !UTF8_CHARSETS.has(charset)) return done(Errors.unsupportedMediaType());
  if (mediaType === MULTIPART && !routeConsumes(request, MULTIPART)) return done(Errors.unsupportedMediaType());
  if (mediaType === FORM && routeReadsJsonOnly(request)) return done(Errors.unsupportedMediaType());
  done(null, payload);
}

const countHeaders = (rawHeaders: string[], name: string): number => {
  let count = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]!.toLowerCase() === name) count++;
  return count;
};

const routeConsumes = (request: FastifyRequest, mediaType: string): boolean => {
  const consumes = (request.routeOptions.schema as { consumes?: unknown } | undefined)?.consumes;
  return Array.isArray(consumes) && consumes.includes(mediaType);
};

/** An API route with a JSON body schema that lists no form type in `consumes`. */
const routeReadsJsonOnly = (request: FastifyRequest): boolean =>
  (request.routeOptions.schema as { body?: unknown } | undefined)?.body !== undefined && !routeConsumes(request, FORM);

/** The fields of a multipart body as `request.body` (a repeated field becomes an array, which
 *  the schema then refuses); any failure of the parser is the client's malformed body. */
async function readMultipartFields(request: FastifyRequest): Promise<void> {
  if (!request.isMultipart()) return;
  const fields: Record<string, unknown> = {};
  try {
    for await (const part of request.parts()) {
      // `files: 0` makes the parser refuse file parts (413) before they get here.
      if (part.type !== 'field') throw Errors.bodyTooLarge();
      if (part.valueTruncated || part.fieldnameTruncated) throw Errors.bodyTooLarge();
      const previous = fields[part.fieldname];
      if (previous === undefined) fields[part.fieldname] = part.value;
      else fields[part.fieldname] = Array.isArray(previous) ? [...previous, part.value] : [previous, part.value];
    }
  } catch (err) {
    if (err instanceof AppError || (err as { statusCode?: unknown }).statusCode === 413) throw err;
    throw malformedMultipart();
  }
  request.body = fields;
}
