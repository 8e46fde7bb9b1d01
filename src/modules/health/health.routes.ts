// Liveness (/healthz: the process answers) and readiness (/readyz: it can serve traffic).
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { VERSION } from '../../version.js';

export interface ReadinessProbe {
  /** Set when the process is shutting down: stop sending traffic here. */
  isShuttingDown(): boolean;
  checkDatabase(): Promise<void>;
  /** Which rate-limit store is in use, and whether it is healthy. */
  rateLimitStore(): { store: 'memory' | 'redis' | 'disabled'; healthy: boolean };
}

const Readiness = Type.Object({
  status: Type.String(),
  database: Type.String(),
  rate_limit_store: Type.String(),
});

export const healthRoutes: FastifyPluginAsyncTypebox<{ probe: ReadinessProbe }> = async (app, { probe }) => {
  const alive = { status: 'ok', version: VERSION };
  app.get(
    '/healthz',
    { schema: { tags: ['health'], summary: 'Liveness: the process answers (and its version)', response: { 200: Type.Object({ status: Type.String(), version: Type.String() }) } } },
    async () => alive,
  );

  app.get('/readyz', { schema: { tags: ['health'], summary: 'Readiness: the database answers and the process is not shutting down', response: { 200: Readiness, 503: Readiness } } }, async (_request, reply) => {
    const store = probe.rateLimitStore();
    const rateLimitStore = store.store === 'redis' && !store.healthy ? 'redis (degraded: in-process fallback)' : store.store;
    if (probe.isShuttingDown()) {
      return reply.code(503).send({ status: 'shutting_down', database: 'unknown', rate_limit_store: rateLimitStore });
    }
    try {
      await probe.checkDatabase();
    } catch {
      return reply.code(503).send({ status: 'unavailable', database: 'unreachable', rate_limit_store: rateLimitStore });
    }
    return { status: 'ready', database: 'ok', rate_limit_store: rateLimitStore };
  });
};
