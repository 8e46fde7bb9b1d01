// SQL statements and round trips per request: a second server instance on the same database,
// connected through the counting proxy, answers a few requests of each kind one at a time.
import { API_PREFIX, BENCH_PASSWORD, benchEmail, login, postJson, register } from './seed.js';
import type { ScenarioName, ScenarioState } from './scenarios.js';
import type { ServerEntry } from './server.js';
import { startServer } from './server.js';
import { startSqlCounter, type SqlCounts } from './sql-counter.js';

type Counted = SqlCounts & { requests: number };

export async function countStatements(options: {
  entry: ServerEntry;
  env: Record<string, string>;
  state: ScenarioState;
  /** Requests of each kind (login and register: half as many; they cost an argon2 each). */
  requests: number;
}): Promise<Partial<Record<ScenarioName, Counted>>> {
  const { state } = options;
  const counter = await startSqlCounter(options.env.DATABASE_URL!);
  // The email worker's poll would add statements no request caused; mail a request queues
  // still wakes it at once, and that work is counted (it is the request's own).
  const server = await startServer({
    entry: options.entry,
    env: { ...options.env, DATABASE_URL: counter.url, OUTBOX_POLL_INTERVAL_MS: '600000' },
  });
  try {
    const count = async (requests: number, send: (i: number) => Promise<void>): Promise<Counted> => {
      await settle();
      const before = counter.counts();
      for (let i = 0; i < requests; i++) await send(i);
      await settle();
      const after = counter.counts();
      return { requests, statements: after.statements - before.statements, roundTrips: after.roundTrips - before.roundTrips };
    };
    const n = options.requests;
    const me = await count(2 * n, async (i) => {
      const response = await fetch(`${server.baseUrl}${API_PREFIX}/auth/me`, {
        headers: { authorization: `Bearer ${state.accessTokens[i % state.accessTokens.length]}` },
      });
      if (response.status !== 200) throw new Error(`statement count: /auth/me answered ${response.status}`);
      await response.arrayBuffer();
    });
    const refresh = await count(2 * n, async () => {
      const token = state.pool.take();
      const { status, json } = await postJson(server.baseUrl, '/auth/refresh', { refresh_token: token });
      if (status !== 200) throw new Error(`statement count: /auth/refresh answered ${status}`);
      state.pool.settle(token, (json as { refresh_token: string }).refresh_token);
    });
    const loginCount = await count(n, async (i) => {
      await login(server.baseUrl, state.users[i % state.users.length]!);
    });
    const registerCount = await count(n, async () => {
      await register(server.baseUrl, { email: benchEmail(state.runId, 'count'), password: BENCH_PASSWORD });
    });
    // The mix's per-request figure follows from its proportions: 1 login, 8 refreshes, 40 /me.
    const perRequest = (c: Counted) => ({ statements: c.statements / c.requests, roundTrips: c.roundTrips / c.requests });
    const [l, r, m] = [perRequest(loginCount), perRequest(refresh), perRequest(me)];
    const mix: Counted = {
      requests: 49,
      statements: l.statements + 8 * r.statements + 40 * m.statements,
      roundTrips: l.roundTrips + 8 * r.roundTrips + 40 * m.roundTrips,
    };
    return { me, refresh, login: loginCount, register: registerCount, mix };
  } finally {
    await server.stop();
    await counter.close();
  }
}

/** Lets work a request started after answering (a job-queue pass) finish before counting. */
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 300));
