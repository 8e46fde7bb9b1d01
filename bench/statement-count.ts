// SQL statements and round trips per request: a second server instance on the same database,
// connected through the counting proxy, answers a few requests of each kind one at a time.
//
// Only what the measured requests cause is counted: before each window the queue settles (the
// proxy has seen no statement for a while: the jobs that seeding queued, e.g. the fan-out of
// its sign-ins' events, are done, and the instance's start-up work too), and after it the same,
// so the queue work a request causes (an email, a webhook) is counted, and nothing else.
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
    // What the idle instance sends by itself (the key set's version, read every 2 s), per ms:
    // subtracted from each window by its length.
    await settle(counter);
    const idleBefore = counter.counts();
    const idleStarted = Date.now();
    await new Promise((resolve) => setTimeout(resolve, IDLE_SAMPLE_MS));
    const idleMs = Date.now() - idleStarted;
    const idle = counter.counts();
    const idleRate = { statements: (idle.statements - idleBefore.statements) / idleMs, roundTrips: (idle.roundTrips - idleBefore.roundTrips) / idleMs };
    const count = async (requests: number, send: (i: number) => Promise<void>): Promise<Counted> => {
      await settle(counter);
      const before = counter.counts();
      const started = Date.now();
      for (let i = 0; i < requests; i++) await send(i);
      await settle(counter);
      const after = counter.counts();
      // The final quiet period is part of the window, and idle.
      const ms = Date.now() - started;
      return {
        requests,
        statements: Math.max(0, after.statements - before.statements - Math.round(idleRate.statements * ms)),
        roundTrips: Math.max(0, after.roundTrips - before.roundTrips - Math.round(idleRate.roundTrips * ms)),
      };
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

/** What the counting notice says, for the report. */
export const COUNTING_NOTE =
  'SQL counted after the queue settled (no statement for 0.5 s), idle background (the key-set poll) subtracted: only what the measured requests cause, their own queue work included';

const QUIET_MS = 500;
const IDLE_SAMPLE_MS = 6_000;
const SETTLE_LIMIT_MS = 60_000;

/**
 * Waits until the server has sent no statement for QUIET_MS: work a request started after
 * answering (a job-queue pass), or that seeding queued, is done. (The poll is off: see above.)
 */
async function settle(counter: { counts(): SqlCounts }): Promise<void> {
  const deadline = Date.now() + SETTLE_LIMIT_MS;
  let last = counter.counts().statements;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
    const now = counter.counts().statements;
    if (now === last) return;
    if (Date.now() > deadline) throw new Error(`statement count: the server was still busy after ${SETTLE_LIMIT_MS / 1000} s`);
    last = now;
  }
}
