// OpenAPI generated from the route schemas, served at /openapi.json, with docs at /docs.
//
// Both are built on their first request, not at start: @fastify/swagger and swagger-ui (with
// @fastify/static and a YAML library, about 120 modules) were a tenth of the start-up time,
// for pages an instance seldom serves. Each route is recorded as it is added (what
// @fastify/swagger's own hook does); the first request registers the recorded routes, without
// handlers or compiled schemas, on a private Fastify instance that carries the two plugins
// with the options they always had. That instance builds the same document, and /docs
// requests are passed to it and its answers passed back unchanged (the service's own hooks,
// security headers included, still run on them).
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type RouteOptions } from 'fastify';
import { ERROR_CODES } from '../lib/errors.js';
import { VERSION } from '../version.js';
import { ROUTE_SUMMARIES } from './openapi-summaries.js';


/** The scheme FastAPI's docs offer: "Authorize" signs in with the login form and sends the token as a bearer. */
const OAUTH2_SCHEME = 'OAuth2PasswordBearer';

/** The stable error codes, listed once (components.schemas.ErrorCode), and the shape of every
 *  error reply (components.schemas.ErrorReply), which each operation's 4XX and 5XX answers name. */
const ERROR_CODE_SCHEMA = {
  $id: 'ErrorCode',
  type: 'string',
  enum: Object.keys(ERROR_CODES),
  description: `Stable error code; never renamed. ${Object.entries(ERROR_CODES).map(([code, meaning]) => `\`${code}\`: ${meaning}`).join(' ')}`,
} as const;
const ERROR_REPLY_SCHEMA = {
  $id: 'ErrorReply',
  type: 'object',
  required: ['detail', 'code'],
  properties: {
    detail: { description: 'FastAPI-shaped: a message, an object such as {"error": "use_oauth_provider"}, or (422) a list of {loc, msg, type}.' },
    code: { $ref: 'ErrorCode#' },
  },
} as const;
// Always JSON, also on routes that produce something else (the SAML metadata's XML).
const ERROR_RESPONSES = {
  '4XX': { description: 'Refused: `code` says why (components.schemas.ErrorCode).', content: { 'application/json': { schema: { $ref: 'ErrorReply#' } } } },
  '5XX': { description: 'A fault or an unavailable dependency.', content: { 'application/json': { schema: { $ref: 'ErrorReply#' } } } },
};

/** A route's schema as documented: its own responses, plus the error replies. */
function withErrorResponses(schema: RouteOptions['schema']): RouteOptions['schema'] {
  if (!schema || (schema as { hide?: boolean }).hide) return schema;
  const response = (schema.response ?? {}) as Record<string, unknown>;
  return { ...schema, response: { ...ERROR_RESPONSES, ...response } };
}

const swaggerOptions = (apiPrefix: string) => ({
  /** A summary for every route (its own, else ROUTE_SUMMARIES), and the password flow beside each bearer requirement. */
  transform: ({ schema, url, route }: { schema?: Record<string, unknown>; url: string; route: { method: string | string[] } }) => ({
    schema: documented(schema, { method: [route.method].flat()[0] ?? 'GET', url, apiPrefix }),
    url,
  }),
  // @fastify/swagger's own naming (def-N, titled by $id), except for the two error schemas,
  // which keep their names so that clients can find them.
  refResolver: {
    buildLocalReference: (json: { $id?: unknown; title?: unknown }, _baseUri: unknown, _fragment: unknown, i: number): string => {
      if (json.$id === ERROR_CODE_SCHEMA.$id || json.$id === ERROR_REPLY_SCHEMA.$id) return json.$id;
      if (!json.title && json.$id) json.title = json.$id;
      return `def-${i}`;
    },
  },
  openapi: {
    openapi: '3.1.0',
    info: {
      title: 'Keyhold',
      description: 'Authentication and account service for multi-tenant SaaS products.',
      version: VERSION,
    },
    components: {
      securitySchemes: {
        bearer: { type: 'http' as const, scheme: 'bearer', bearerFormat: 'JWT' },
        [OAUTH2_SCHEME]: { type: 'oauth2' as const, flows: { password: { tokenUrl: `${apiPrefix}/auth/login`, scopes: {} } } },
      },
    },
  },
});

const DOCS_PREFIX = '/docs';
/** swagger-ui's own policy, with two changes: Swagger UI sets inline style attributes, which a
 *  style-src of hashes refuses (a CSP error in the console), so styles are 'self' and inline;
 *  and no upgrade-insecure-requests, which breaks /docs served over plain http on loopback. */
const SWAGGER_UI_OPTIONS = {
  routePrefix: DOCS_PREFIX,
  staticCSP: true,
  transformStaticCSP: (policy: string) =>
    policy
      .replace(/style-src [^;]*;/, "style-src 'self' 'unsafe-inline';")
      .replace(/frame-ancestors [^;]*;/, "frame-ancestors 'none';")
      .replace(/\s*upgrade-insecure-requests;/, ''),
  uiConfig: { persistAuthorization: false },
} as const;

/** The route's schema with a summary (its own, else ROUTE_SUMMARIES's line) and, where it takes a
 *  bearer token, the OAuth2 password flow as an alternative way to get one. */
function documented(schema: Record<string, unknown> | undefined, route: { method: string; url: string; apiPrefix: string }): Record<string, unknown> | undefined {
  if (!schema || schema.hide) return schema;
  const result: Record<string, unknown> = { ...schema };
  const url = route.url.replace(/:(\w+)/g, '{$1}');
  const path = route.apiPrefix && url.startsWith(route.apiPrefix) ? url.slice(route.apiPrefix.length) : url;
  result.summary ??= ROUTE_SUMMARIES[`${route.method.toUpperCase()} ${path}`];
  const security = schema.security as Array<Record<string, string[]>> | undefined;
  if (security?.some((requirement) => 'bearer' in requirement) && !security.some((requirement) => OAUTH2_SCHEME in requirement)) {
    result.security = [...security, { [OAUTH2_SCHEME]: [] }];
  }
  return result;
}

/** The routes @fastify/swagger-ui 5.2 adds under the prefix (its static files under
 *  /static/*), so the service answers exactly the paths it answered with the plugin
 *  registered (404 and 405 included). */
const DOCS_ROUTES = ['', '/', '/json', '/yaml', '/static/index.html', '/static/swagger-initializer.js', '/static/*'].map(
  (path) => `${DOCS_PREFIX}${path}`,
);

type RecordedRoute = Pick<RouteOptions, 'method' | 'url' | 'schema' | 'config' | 'exposeHeadRoute'> & { links?: unknown };

export async function registerOpenApi(app: FastifyInstance, options: { apiPrefix: string }): Promise<void> {
  const routes: RecordedRoute[] = [];
  app.addHook('onRoute', (route) => {
    // HEAD twins of GET routes are made again by the private instance.
    if (route.method === 'HEAD') return;
    const { method, url, schema, config, exposeHeadRoute } = route;
    const { links } = route as { links?: unknown };
    routes.push({ method, url, schema, config, exposeHeadRoute, ...(links === undefined ? {} : { links }) });
  });

  let docs: Promise<FastifyInstance> | undefined;
  const docsApp = (): Promise<FastifyInstance> => {
    docs ??= buildDocsApp(routes, options.apiPrefix).catch((err: unknown) => {
      docs = undefined; // a failed load is tried again by the next request
      throw new Error(`the API documentation could not be built: ${(err as Error).message}`);
    });
    return docs;
  };

  app.get('/openapi.json', { schema: { hide: true } }, async () => (await docsApp()).swagger());

  const forward = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const response = await (await docsApp()).inject({
      method: 'GET',
      url: request.url,
      headers: withoutHopByHop(request.headers),
    });
    const copyHeaders = (skip: ReadonlySet<string>): void => {
      for (const [name, value] of Object.entries(response.headers)) {
        if (value !== undefined && !HOP_BY_HOP.has(name) && !skip.has(name)) reply.header(name, value);
      }
    };
    // A file swagger-ui does not have: the service's own 404 (with swagger-ui's headers), as before.
    if (response.statusCode === 404) {
      copyHeaders(new Set(['content-type', 'content-length', 'date']));
      reply.callNotFound();
      return reply;
    }
    // Its failures are the service's: logged, and answered in the service's shape.
    if (response.statusCode >= 500) throw new Error(`the API documentation answered ${response.statusCode} for ${request.routeOptions.url}`);
    reply.code(response.statusCode);
    copyHeaders(new Set(['content-length', 'date']));
    return response.rawPayload.length === 0 ? reply.send() : reply.send(response.rawPayload);
  };
  for (const url of DOCS_ROUTES) app.get(url, { schema: { hide: true } }, forward);
}

async function buildDocsApp(routes: readonly RecordedRoute[], apiPrefix: string): Promise<FastifyInstance> {
  const [{ default: swagger }, { default: swaggerUi }] = await Promise.all([import('@fastify/swagger'), import('@fastify/swagger-ui')]);
  const docs = Fastify({ logger: false });
  // Only the document is wanted from these routes: nothing is validated or serialised here.
  docs.setValidatorCompiler(() => () => true);
  docs.setSerializerCompiler(() => (data) => JSON.stringify(data));
  docs.addSchema(ERROR_CODE_SCHEMA);
  docs.addSchema(ERROR_REPLY_SCHEMA);
  await docs.register(swagger, swaggerOptions(apiPrefix) as never);
  await docs.register(swaggerUi, { ...SWAGGER_UI_OPTIONS });
  const unused = async (): Promise<never> => {
    throw new Error('documentation routes are never called');
  };
  for (const route of routes) {
    if (DOCS_ROUTES.includes(route.url) || route.url === '/openapi.json') continue;
    docs.route({ ...route, schema: withErrorResponses(route.schema), handler: unused } as RouteOptions);
  }
  await docs.ready();
  return docs;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer']);

function withoutHopByHop(headers: FastifyRequest['headers']): Record<string, string | string[]> {
  const forwarded: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name) && name !== 'content-length') forwarded[name] = value;
  }
  return forwarded;
}
