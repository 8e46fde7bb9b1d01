// GET /metrics (root, no API prefix) and the hook that times every request. Neither exists
// unless METRICS_ENABLED=true: a disabled instance answers 404 and pays nothing per request.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { Errors } from '../../lib/errors.js';
import type { Metrics } from './metrics.js';

/**
 * Times every request by its route pattern (`request.routeOptions.url`, never the raw URL) and
 * status code. Register before the routes: Fastify gives a route the hooks that exist when it
 * is added. With metrics disabled no hook is added at all.
 */
export function registerRequestMetrics(app: FastifyInstance, metrics: Metrics): void {
  if (!metrics.enabled) return;
  app.addHook('onResponse', (request, reply, done) => {
    metrics.observeRequest({ method: request.method, route: request.routeOptions.url, statusCode: reply.statusCode, seconds: reply.elapsedTime / 1000 });
    done();
  });
}

export interface MetricsRouteOptions {
  metrics: Metrics;
  /** METRICS_TOKEN: when set, a scrape must send `Authorization: Bearer <token>`. */
  token?: string;
}

export const metricsRoutes: FastifyPluginAsync<MetricsRouteOptions> = async (app, { metrics, token }) => {
  if (!metrics.enabled) return;
  const expected = token === undefined ? undefined : sha256(token);
  // Kept out of the OpenAPI document: it is an operator's endpoint, not part of the API.
  app.get('/metrics', { schema: { hide: true, tags: ['ops'] } }, async (request, reply) => {
    if (expected && !bearerMatches(request.headers.authorization, expected)) throw Errors.credentials();
    const { contentType, body } = await metrics.scrape();
    return reply.type(contentType).send(body);
  });
};

const sha256 = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/** Compares digests, so the comparison takes the same time whatever the token's length or content. */
function bearerMatches(header: string | undefined, expected: Buffer): boolean {
  const match = /^Bearer +(\S+) *$/i.exec(header ?? '');
  const same = timingSafeEqual(sha256(match?.[1] ?? ''), expected);
  return match !== null && same;
}
