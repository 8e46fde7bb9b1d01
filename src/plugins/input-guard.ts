// PostgreSQL text cannot hold NUL, nor can jsonb hold a lone UTF-16 surrogate, and no field
// of this API has a use for either: refuse them at the door (422) rather than letting the
// database answer with a 500 or store a mangled character.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { validationError } from '../lib/errors.js';

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
