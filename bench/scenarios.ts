// What each benchmarked endpoint sends. Every request gets its own credentials: a distinct
// live refresh token from the pool, a seeded user (so the per-account lockout's in-flight
// guess cap is never reached), a fresh email for registration.
import type { AutocannonRequest } from 'autocannon';
import { API_PREFIX, BENCH_PASSWORD, benchEmail, type Credentials } from './seed.js';
import type { RefreshTokenPool } from './token-pool.js';

export interface ScenarioState {
  runId: string;
  users: Credentials[];
  accessTokens: string[];
  pool: RefreshTokenPool;
}

const JSON_HEADERS = { 'content-type': 'application/json' };

function roundRobin<T>(items: T[]): () => T {
  let next = 0;
  return () => items[next++ % items.length]!;
}

function meRequest(state: ScenarioState): AutocannonRequest {
  const nextToken = roundRobin(state.accessTokens);
  return {
    method: 'GET',
    path: `${API_PREFIX}/auth/me`,
    setupRequest: (request) => ({ ...request, headers: { ...request.headers, authorization: `Bearer ${nextToken()}` } }),
  };
}

function refreshRequest(state: ScenarioState): AutocannonRequest {
  return {
    method: 'POST',
    path: `${API_PREFIX}/auth/refresh`,
    headers: JSON_HEADERS,
    setupRequest: (request, context) => {
      // The pool is kept larger than the connection count, so it is never empty here.
      const token = state.pool.take() ?? '';
      context.presented = token;
      return { ...request, body: JSON.stringify({ refresh_token: token }) };
    },
    onResponse: (status, body, context) => {
      const successor = status === 200 ? (JSON.parse(body) as { refresh_token: string }).refresh_token : undefined;
      state.pool.settle(context.presented as string | undefined, successor);
    },
  };
}

function loginRequest(state: ScenarioState): AutocannonRequest {
  const nextUser = roundRobin(state.users);
  return {
    method: 'POST',
    path: `${API_PREFIX}/auth/login/json`,
    headers: JSON_HEADERS,
    setupRequest: (request) => ({ ...request, body: JSON.stringify(nextUser()) }),
  };
}

function registerRequest(state: ScenarioState): AutocannonRequest {
  return {
    method: 'POST',
    path: `${API_PREFIX}/auth/register`,
    headers: JSON_HEADERS,
    setupRequest: (request) => ({
      ...request,
      body: JSON.stringify({ email: benchEmail(state.runId, 'reg'), password: BENCH_PASSWORD, name: 'Bench Registrant' }),
    }),
  };
}

/** A client's day: 1 login : 8 refreshes : 40 profile reads, interleaved on each connection. */
function mixRequests(state: ScenarioState): AutocannonRequest[] {
  const me = meRequest(state);
  const refresh = refreshRequest(state);
  const sequence: AutocannonRequest[] = [loginRequest(state)];
  for (let i = 0; i < 8; i++) sequence.push(refresh, me, me, me, me, me);
  return sequence;
}

export type ScenarioName = 'me' | 'refresh' | 'login' | 'register' | 'mix';

export const SCENARIO_LABELS: Record<ScenarioName, string> = {
  me: 'GET /auth/me',
  refresh: 'POST /auth/refresh',
  login: 'POST /auth/login/json',
  register: 'POST /auth/register',
  mix: 'mix 1 login : 8 refresh : 40 me',
};

export function scenarioRequests(name: ScenarioName, state: ScenarioState): AutocannonRequest[] {
  switch (name) {
    case 'me':
      return [meRequest(state)];
    case 'refresh':
      return [refreshRequest(state)];
    case 'login':
      return [loginRequest(state)];
    case 'register':
      return [registerRequest(state)];
    case 'mix':
      return mixRequests(state);
  }
}

/** Scenarios that draw refresh tokens from the pool. */
export const usesRefreshPool = (name: ScenarioName): boolean => name === 'refresh' || name === 'mix';
