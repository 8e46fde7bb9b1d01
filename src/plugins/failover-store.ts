// Rate-limit counters in Redis, shared by every instance, that fall back to process memory
// while Redis is unreachable: a Redis outage weakens the limits to per-instance ones, it
// neither locks users out nor switches the limits off.
import { createRequire } from 'node:module';
import type { FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import type { Redis } from 'ioredis';

type IncrCallback = (err: Error | null, result: { current: number; ttl: number } | null) => void;

interface Store {
  incr(key: string, callback: IncrCallback, timeWindow: number, max: number): void;
  child(routeOptions: RouteOptions): Store;
}

interface RouteOptions {
  continueExceeding: boolean;
  exponentialBackoff: boolean;
  routeInfo: { method: string; url: string };
  cache?: number;
}

type StoreConstructor = new (...args: unknown[]) => Store;

// The plugin's own stores (CommonJS, not in its typed exports).
const require = createRequire(import.meta.url);
const RedisStore = require('@fastify/rate-limit/store/RedisStore.js') as StoreConstructor;
const LocalStore = require('@fastify/rate-limit/store/LocalStore.js') as StoreConstructor;

/** The shared (Redis) store, the local one it falls back to, and what to call on a fallback. */
interface FailoverParts {
  shared: Store;
  local: Store;
  onFallback: () => void;
}

class FailoverStore implements Store {
  private readonly shared: Store;
  private readonly local: Store;
  private readonly onFallback: () => void;

  constructor(
    private readonly redis: Redis,
    { shared, local, onFallback }: FailoverParts,
  ) {
    this.shared = shared;
    this.local = local;
    this.onFallback = onFallback;
  }

  incr(key: string, callback: IncrCallback, timeWindow: number, max: number): void {
    if (this.redis.status !== 'ready') {
      this.onFallback();
      this.local.incr(key, callback, timeWindow, max);
      return;
    }
    this.shared.incr(
      key,
      (err, result) => {
        if (!err) return callback(null, result);
        this.onFallback();
        this.local.incr(key, callback, timeWindow, max);
      },
      timeWindow,
      max,
    );
  }

  child(routeOptions: RouteOptions): Store {
    return new FailoverStore(this.redis, { shared: this.shared.child(routeOptions), local: this.local.child(routeOptions), onFallback: this.onFallback });
  }
}

/** A store class for @fastify/rate-limit's `store` option (it instantiates it itself). */
export function failoverStoreClass(redis: Redis, nameSpace: string, onFallback: () => void): FastifyRateLimitStoreCtor {
  return class {
    constructor(params: { continueExceeding: boolean; exponentialBackoff: boolean }) {
      return new FailoverStore(redis, {
        shared: new RedisStore(params.continueExceeding, params.exponentialBackoff, redis, nameSpace),
        local: new LocalStore(params.continueExceeding, params.exponentialBackoff),
        onFallback,
      });
    }
  } as unknown as FastifyRateLimitStoreCtor;
}
