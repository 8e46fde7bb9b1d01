// Security headers on every response, CORS only for configured origins, and no caching of
// anything the API answers (tokens, profiles).
import { createRequire } from 'node:module';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type Helmet from 'helmet';

/**
 * What a JSON API response needs (OWASP REST Security Cheat Sheet): never cached, never
 * sniffed into HTML, never framed, HTTPS only, no referrer. The browser-page headers helmet
 * adds (cross-origin isolation, XSS auditor, DNS prefetch, …) have nothing to act on in
 * JSON, and every header is work on every request of the hottest endpoints.
 */
const API_HEADERS: Readonly<Record<string, string>> = {
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

/** The API reference at /docs is an HTML page: helmet's full set, with a policy that lets
 *  Swagger UI run from its own files. Worked out once, on the first /docs request (helmet is
 *  loaded then, not at start); none of it depends on the request. */
function docsPageHeaders(): Record<string, string> {
  const helmet = createRequire(import.meta.url)('helmet') as typeof Helmet;
  const headers: Record<string, string> = {};
  const response = {
    setHeader: (name: string, value: string | number) => void (headers[name.toLowerCase()] = String(value)),
    removeHeader: (name: string) => void delete headers[name.toLowerCase()],
  };
  helmet({
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:'],
        frameAncestors: ["'none'"],
      },
    },
    frameguard: { action: 'deny' },
    hsts: { maxAge: 31_536_000, includeSubDomains: true },
    referrerPolicy: { policy: 'no-referrer' },
  })({} as never, response as never, () => {});
  return headers;
}

type FrameworkErrorHandler = (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => FastifyReply;

/** For Fastify's `frameworkErrors`: what the router refuses itself (a path that is not valid
 *  percent-encoding, an over-long path parameter) is answered before any hook runs, so the
 *  onRequest hook below never gives those replies the API's headers; this does. */
export function withApiHeaders(handler: FrameworkErrorHandler): FrameworkErrorHandler {
  return (error, request, reply) => {
    for (const [name, value] of Object.entries(API_HEADERS)) reply.header(name, value);
    return handler(error, request, reply);
  };
}

export async function registerSecurity(app: FastifyInstance, options: { corsOrigins: string[] }): Promise<void> {
  const api = Object.entries(API_HEADERS);
  let docs: Array<[string, string]> | undefined;
  app.addHook('onRequest', (request, reply, done) => {
    const headers = request.url.startsWith('/docs') ? (docs ??= Object.entries(docsPageHeaders())) : api;
    for (const [name, value] of headers) reply.header(name, value);
    done();
  });
  // Without configured origins there is nothing to allow: no CORS headers, and preflights
  // find no route (404), which a browser treats as the refusal it is.
  if (options.corsOrigins.length === 0) return;
  const { default: cors } = await import('@fastify/cors');
  await app.register(cors, {
    origin: options.corsOrigins,
    credentials: true,
    methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
  });
}
