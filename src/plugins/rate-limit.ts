// Per-IP rate limits. A route opts in with `config: perMinute(n)` for a budget of its own, or
// with `preHandler: sharedBudget('name')` for one it shares with other routes (both login
// routes; every check of a password). Counters live in process memory, or in Redis when
// REDIS_URL is set so every instance shares them.
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import { AppError, Errors } from '../lib/errors.js';
import { failoverStoreClass } from './failover-store.js';

export const perMinute = (max: number) => ({ rateLimit: { max, timeWindow: '1 minute' } });

const NAMESPACE = 'keyhold-rl:';

/** Budgets several routes draw from, per IP and minute. */
const SHARED_BUDGETS = {
  /** POST /auth/login and /auth/login/json: one budget, not one each. */
  login: 5,
  /** Every check of a signed-in user's password or code outside login. */
  'password-check': 5,
  // Each of these an API route shares with its hosted page (modules/hosted-ui), so the pages
  // give an IP no more tries than the API does.
  /** POST /auth/mfa/verify, /ui/mfa and /ui/mfa/passkey: second-step tries. */
  'mfa-verify': 5,
  /** POST /auth/mfa/passkey/options and /ui/mfa/passkey/options. */
  'mfa-passkey-options': 10,
  /** POST /auth/passkeys/login/options and /ui/passkey/options: each stores a challenge row. */
  'passkey-login-options': 30,
  /** POST /auth/passkeys/login/verify and /ui/passkey/sign-in. */
  'passkey-login': 10,
  /** POST /auth/passkeys/register/options and /ui/account/passkeys/options. */
  'passkey-register-options': 10,
  /** POST /auth/passkeys/register/verify and /ui/account/passkeys. */
  'passkey-register': 10,
} as const;

export type SharedBudget = keyof typeof SHARED_BUDGETS;

type Limiter = ReturnType<FastifyInstance['createRateLimit']>;

declare module 'fastify' {
  interface FastifyInstance {
    /** Set only while rate limits are on. */
    sharedRateLimits?: Map<SharedBudget, Limiter>;
  }
}

/**
 * A preHandler that spends one unit of a shared budget; `when` limits it to the requests that
 * actually check a secret. A no-op with rate limits off.
 */
export function sharedBudget(name: SharedBudget, when: (request: FastifyRequest) => boolean = () => true) {
  return async function spendSharedBudget(request: FastifyRequest): Promise<void> {
    const limiter = request.server.sharedRateLimits?.get(name);
    if (!limiter || !when(request)) return;
    const result = await limiter(request);
    if (!result.isAllowed && result.isExceeded) throw rateLimitExceeded(result.max, result.ttl);
  };
}

const rateLimitExceeded = (max: number, ttlMs: number): AppError => Errors.rateLimitExceeded(max, Math.max(1, Math.ceil(ttlMs / 1000)));

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
    errorResponseBuilder: (_request, context) => rateLimitExceeded(context.max, context.ttl),
  });
  // One limiter (one counter store) per shared budget, keyed by its name so that budgets never
  // share a counter, in memory or in Redis.
  const limiters = new Map<SharedBudget, Limiter>();
  for (const [name, max] of Object.entries(SHARED_BUDGETS) as Array<[SharedBudget, number]>) {
    limiters.set(name, app.createRateLimit({ max, timeWindow: '1 minute', keyGenerator: (request: FastifyRequest) => `${name}:${request.ip}` }));
  }
  app.decorate('sharedRateLimits', limiters);
}
