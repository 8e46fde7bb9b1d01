// Per-IP rate limits. Routes opt in with `config: perMinute(n)`; counters live in process
// memory, or in Redis when REDIS_URL is set so every instance shares them.
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { AppError } from '../lib/errors.js';
import { failoverStoreClass } from './failover-store.js';

export const perMinute = (max: number) => ({ rateLimit: { max, timeWindow: '1 minute' } });

const NAMESPACE = 'keyhold-rl:';

export async function registerRateLimit(app: FastifyInstance, options: { enabled: boolean; redis?: Redis }): Promise<void> {
  if (!options.enabled) return;
  const { redis } = options;
  let warned = false;
  const onFallback = () => {
    if (!warned) app.log.warn('redis unreachable: rate limits fall back to this instance\'s memory');
    warned = true;
  };
  redis?.on('ready', () => {
    warned = false;
  });
  await app.register(rateLimit, {
    global: false,
    ...(redis ? { store: failoverStoreClass(redis, NAMESPACE, onFallback) } : {}),
    // Only reached if even the fallback fails: never lock every user out over a counter.
    skipOnError: true,
    keyGenerator: (request) => request.ip,
    errorResponseBuilder: (_request, context) =>
      new AppError(429, `Rate limit exceeded: ${context.max} per 1 minute`, {
        'Retry-After': String(Math.max(1, Math.ceil(context.ttl / 1000))),
      }),
  });
}
