// The shared Redis behind the rate limits (REDIS_URL), connected before the app serves.
import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';

const REDIS_CONNECT_TIMEOUT_MS = 2000;

/** ioredis is loaded only when REDIS_URL is set. */
export async function connectRedis(url: string, log: FastifyBaseLogger): Promise<Redis> {
  const { Redis } = await import('ioredis');
  const redis = new Redis(url, {
    // Fail rate-limit lookups fast while Redis is away instead of queueing them.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: REDIS_CONNECT_TIMEOUT_MS,
    lazyConnect: false,
  });
  let lastState = '';
  redis.on('error', (err) => {
    if (lastState !== 'error') log.warn({ err: { message: err.message } }, 'redis unavailable');
    lastState = 'error';
  });
  redis.on('ready', () => {
    lastState = 'ready';
  });
  // Serve only once the shared counters can be reached (or the first attempt has failed):
  // requests answered before would count in this instance's memory, and one client's first
  // requests would slip past the limit shared by every instance.
  await new Promise<void>((resolve) => {
    const settle = () => {
      clearTimeout(timer);
      redis.off('ready', settle).off('error', settle);
      resolve();
    };
    const timer = setTimeout(settle, REDIS_CONNECT_TIMEOUT_MS);
    redis.once('ready', settle).once('error', settle);
  });
  return redis;
}
