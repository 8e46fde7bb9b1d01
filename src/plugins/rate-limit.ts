// Per-IP rate limits. Routes opt in with `config: perMinute(n)`; counters live in process
// memory, or in Redis when REDIS_URL is set so every instance shares them.
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { AppError } from '../lib/errors.js';

export const perMinute = (max: number) => ({ rateLimit: { max, timeWindow: '1 minute' } });

export async function registerRateLimit(app: FastifyInstance, options: { enabled: boolean; redis?: Redis }): Promise<void> {
  if (!options.enabled) return;
  await app.register(rateLimit, {
    global: false,
    redis: options.redis,
    nameSpace: 'keyhold-rl:',
    // A Redis outage must not lock every user out.
    skipOnError: true,
    keyGenerator: (request) => request.ip,
    errorResponseBuilder: (_request, context) =>
      new AppError(429, `Rate limit exceeded: ${context.max} per ${context.after}`, {
        'Retry-After': String(Math.max(1, Math.ceil(context.ttl / 1000))),
      }),
  });
}
