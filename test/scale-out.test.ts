// Instances are stateless (contract: "Deployment and scale-out"): three Keyhold processes on one
// PostgreSQL database and one Redis, behind a round-robin load balancer on loopback, under mixed
// load for SCALE_OUT_SECONDS (default 120), each restarted in turn with SIGTERM. Then: no request
// failed other than by the contract, no job ran twice at once, every webhook event arrived, each
// periodic task ran at most once per interval (and kept running), and a key rotated on the
// database was honoured by every instance. It prints its figures; it asserts no timing.
// docs/scale-out.md says how it works and what it measured.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { decodeProtectedHeader } from 'jose';
import { runCliJson } from './helpers/cli.js';
import { createTestDatabase, withClient } from './helpers/database.js';
import { PASSWORD } from './helpers/fixtures.js';
import { keyholdProcess, type KeyholdProcess, type LogLine } from './helpers/keyhold-process.js';
import { freePort } from './helpers/ports.js';
import { startRoundRobinProxy } from './helpers/round-robin-proxy.js';
import { call, LoadRecord, randomClientIp, runLoad } from './helpers/scale-load.js';
import { startSmtpServer } from './helpers/smtp.js';
import { startWatchfulReceiver } from './helpers/watchful-receiver.js';

const SECONDS = Number(process.env.SCALE_OUT_SECONDS ?? 120);
const INSTANCES = 3;
const USERS = Number(process.env.SCALE_OUT_USERS ?? 4);
const API = '/api/v1';
/** Short periodic intervals, so two minutes hold dozens of runs (RETENTION_/SIGNING_KEYS_INTERVAL_SECONDS). */
const INTERVALS = { retention: 4, 'signing-keys': 3 } as const;
const ADMIN = { email: 'scale-admin@example.com', password: PASSWORD };
const KEPT = new Set(['periodic task done', 'periodic task failed', 'periodic task lost its lease; stopping it', 'job succeeded', 'job lease lost; result not recorded', 'job failed; will retry', 'job failed; giving up']);

const missing = ['TEST_DATABASE_URL', 'TEST_REDIS_URL'].filter((name) => !process.env[name]);
const skip = missing.length ? `the scale-out test needs ${missing.join(' and ')} (PostgreSQL and Redis; the embedded database is one process)` : false;

describe('scale-out: three instances, one PostgreSQL, one Redis', { skip }, () => {
  it('serves mixed load through rolling SIGTERM restarts, with jobs, periodic tasks and keys shared', { timeout: SECONDS * 1000 + 300_000 }, async () => {
    const database = await createTestDatabase('postgres');
    const smtp = await startSmtpServer();
    const receiver = await startWatchfulReceiver();
    const ports = await Promise.all(Array.from({ length: INSTANCES }, () => freePort()));
    const proxy = await startRoundRobinProxy({ ports, healthIntervalMs: 500 });
    const env: Record<string, string> = {
      DATABASE_URL: database.url!,
      REDIS_URL: process.env.TEST_REDIS_URL!,
      SECRETS_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      // Every instance is reached through the balancer, and trusts it (and only it) to say who the client is.
      PUBLIC_URL: proxy.url,
      TRUST_PROXY: '127.0.0.1',
      SMTP_URL: smtp.url,
      OUTBOX_POLL_INTERVAL_MS: '200',
      WEBHOOK_ALLOW_INSECURE_URLS: 'true',
      BOOTSTRAP_ADMIN_EMAIL: ADMIN.email,
      BOOTSTRAP_ADMIN_PASSWORD: ADMIN.password,
      RETENTION_INTERVAL_SECONDS: String(INTERVALS.retention),
      SIGNING_KEYS_INTERVAL_SECONDS: String(INTERVALS['signing-keys']),
      SHUTDOWN_GRACE_SECONDS: '20',
      // Three seconds of /readyz 503 while still serving: six of the balancer's health checks
      // (each may take a second or two on a saturated machine).
      SHUTDOWN_DRAIN_SECONDS: '3',
      LOG_LEVEL: 'info',
    };
    const instances: KeyholdProcess[] = ports.map((port) => keyholdProcess({ port, env, keep: (line) => KEPT.has(line.msg) || line.level >= 50 }));
    const record = new LoadRecord();
    let stopLoad = false;
    const restarts: Array<{ instance: number; drainMs: number; startMs: number }> = [];
    let claimsWatch: ReturnType<typeof watchPeriodicClaims> | undefined;
    try {
      // All three start at once on the empty database: migrations, keys and the admin race here.
      const startMs = await Promise.all(instances.map((i) => i.start()));
      claimsWatch = watchPeriodicClaims(database.url!);
      await proxy.checkNow();

      const admin = await call(record, proxy.url, 'admin-login', { path: `${API}/auth/login/json`, json: ADMIN, ip: randomClientIp(), expected: 200 });
      const endpoint = await call(record, proxy.url, 'admin-webhook', {
        path: `${API}/admin/webhooks`, json: { url: `${receiver.url}/hook` }, token: admin.body.access_token, ip: randomClientIp(), expected: 201,
      });
      receiver.secret = endpoint.body.secret;

      // The counters are shared: one address, four forgot-password requests on three instances.
      const ip = randomClientIp();
      const limited = [];
      for (let i = 0; i < 4; i++) limited.push((await call(record, proxy.url, 'rate-limited', { path: `${API}/auth/password/forgot`, json: { email: 'nobody@example.com' }, ip, expected: i < 3 ? 200 : 429 })).status);
      assert.deepEqual(limited, [200, 200, 200, 429], 'one rate limit across the instances (Redis)');

      const began = Date.now();
      const loadEnds = began + SECONDS * 1000;
      let loadSeconds = 0;
      const load = runLoad({ record, base: proxy.url, api: API, smtp, raceEvery: 3 }, USERS, () => !stopLoad && Date.now() < loadEnds).then(() => {
        loadSeconds = Math.round((Date.now() - began) / 1000);
      });
      const until = (fraction: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, began + fraction * SECONDS * 1000 - Date.now())));

      let rotation: { kid: string; convergedMs: number } | undefined;
      for (const [index, instance] of instances.entries()) {
        await until((index + 1) / (INSTANCES + 1));
        const stopped = await instance.stop('SIGTERM');
        assert.equal(stopped.code, 0, `instance ${index} exits 0 after SIGTERM: ${instance.stderr}`);
        restarts.push({ instance: index, drainMs: stopped.ms, startMs: await instance.start() });
        if (index === 0) {
          await until(1.5 / (INSTANCES + 1));
          rotation = await rotateAndCheck(instances, env);
        }
      }
      await load;

      // Settle: every queued email, event and webhook delivery done.
      const pending = await settle(database.url!);
      assert.equal(pending, 0, 'every job finished within the settle period');
      const webhooks = await checkWebhooks(database.url!, endpoint.body.id as string, receiver);
      const periodic = checkPeriodic(instances, await claimsWatch!.stop(), (Date.now() - began) / 1000);
      const jobRuns = { ...checkJobRuns(instances), ...(await jobAttempts(database.url!)) };

      const figures = {
        machine: `${process.platform} ${process.arch}, node ${process.version}`,
        seconds: loadSeconds, instances: INSTANCES, virtualUsers: USERS, visits: record.visits,
        ...record.figures(), startMs, restarts, rotation, proxy: { ...proxy.stats, answered: proxy.upstreams.map((u) => u.answered) },
        webhooks, periodic, jobRuns, logLines: instances.map((i) => i.lineCount),
      };
      console.log(`scale-out figures: ${JSON.stringify(figures, null, 2)}`);

      assert.deepEqual(record.failures().map((s) => s.problem), [], 'no request failed other than by the contract');
      assert.deepEqual(record.problems, [], 'no broken contract (reset emails, refresh races)');
      assert.deepEqual(instances.flatMap((i) => i.logs.filter((l) => l.level >= 50).map((l) => l.msg)), [], 'no error logged');
    } finally {
      stopLoad = true;
      await claimsWatch?.stop();
      for (const instance of instances) instance.kill();
      await proxy.close();
      await receiver.close();
      await smtp.close();
      await database.drop();
    }
  });
});

/** `keyhold keys rotate` on the shared database; every instance then signs with the new key, and
 *  verifies and publishes it. Returns the new kid and how long until every instance signed with it. */
async function rotateAndCheck(instances: KeyholdProcess[], env: Record<string, string>): Promise<{ kid: string; convergedMs: number }> {
  const rotated = await runCliJson(['keys', 'rotate'], { env: { DATABASE_URL: env.DATABASE_URL!, SECRETS_ENCRYPTION_KEY: env.SECRETS_ENCRYPTION_KEY!, LOG_LEVEL: 'silent' } });
  const kid = rotated.current as string;
  const started = Date.now();
  const tokens: string[] = [];
  for (const instance of instances) {
    // Signs with it once its key-set poll has seen the rotation (every 2 s).
    for (let attempt = 0; ; attempt++) {
      const res = await fetch(`${instance.base}/api/v1/auth/login/json`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': randomClientIp() },
        body: JSON.stringify(ADMIN),
      });
      assert.equal(res.status, 200);
      const token = ((await res.json()) as { access_token: string }).access_token;
      if (decodeProtectedHeader(token).kid === kid) {
        tokens.push(token);
        break;
      }
      assert.ok(attempt < 100, `instance on ${instance.port} still signs with the old key 10 s after the rotation`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  const convergedMs = Date.now() - started;
  for (const instance of instances) {
    for (const token of tokens) {
      const me = await fetch(`${instance.base}/api/v1/auth/me`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(me.status, 200, `a token of the new key verifies on ${instance.port}`);
    }
    const jwks = (await (await fetch(`${instance.base}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> };
    assert.ok(jwks.keys.some((k) => k.kid === kid), `the JWKS of ${instance.port} shows the new key`);
    assert.ok(jwks.keys.some((k) => k.kid === rotated.next), `and the new next key`);
  }
  return { kid, convergedMs };
}

/** Waits (up to 90 s) until no email, event or webhook job is pending; returns how many still are. */
async function settle(url: string): Promise<number> {
  let pending = -1;
  for (let i = 0; i < 180; i++) {
    pending = await withClient(url, async (client) => {
      const { rows } = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM jobs WHERE status = 'pending'`);
      return rows[0]!.n;
    });
    if (pending === 0) return 0;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return pending;
}

/** Every event since the endpoint was made became a delivery, every delivery succeeded, and the
 *  receiver saw every event id, signed, never two deliveries of one id at once. */
async function checkWebhooks(url: string, endpointId: string, receiver: Awaited<ReturnType<typeof startWatchfulReceiver>>) {
  const { events, deliveries } = await withClient(url, async (client) => {
    const since = (await client.query(`SELECT receives_events_since FROM webhook_endpoints WHERE id = $1`, [endpointId])).rows[0].receives_events_since;
    const events = (await client.query<{ id: string; status: string }>(`SELECT payload->>'id' AS id, status FROM jobs WHERE kind = 'event' AND created_at >= $1`, [since])).rows;
    const deliveries = (await client.query<{ event_id: string; status: string; attempts: number }>(`SELECT event_id, status, attempts FROM webhook_deliveries WHERE endpoint_id = $1`, [endpointId])).rows;
    return { events, deliveries };
  });
  const delivered = new Map(deliveries.map((d) => [d.event_id, d]));
  assert.ok(events.length > 0, 'the load made events');
  assert.deepEqual(events.filter((e) => e.status !== 'succeeded' || delivered.get(e.id)?.status !== 'succeeded').map((e) => e.id), [], 'every event delivered');
  assert.deepEqual(events.filter((e) => !receiver.received.has(e.id)).map((e) => e.id), [], 'and received');
  assert.equal(receiver.badSignatures, 0, 'every delivery verifies (standardwebhooks)');
  assert.equal(receiver.concurrentDuplicates, 0, 'no webhook delivered twice at once');
  const repeated = [...receiver.received.values()].filter((n) => n > 1).length;
  return { events: events.length, deliveries: deliveries.length, received: receiver.requests, repeatedIds: repeated, retriedDeliveries: deliveries.filter((d) => d.attempts > 1).length };
}

/**
 * Watches the periodic tasks' schedule rows: each claim of a run sets last_started_at (the
 * database's clock, which the claim itself compares), so every distinct value is one run.
 * Polled far more often than the intervals, so no run is missed.
 */
function watchPeriodicClaims(url: string): { stop(): Promise<Map<string, number[]>> } {
  const claims = new Map<string, Set<number>>();
  let running = true;
  const watching = withClient(url, async (client) => {
    while (running) {
      const { rows } = await client.query<{ name: string; at: string }>(
        `SELECT name, (extract(epoch FROM last_started_at) * 1000000)::bigint::text AS at FROM periodic_tasks WHERE last_started_at IS NOT NULL`,
      );
      for (const row of rows) claims.set(row.name, (claims.get(row.name) ?? new Set()).add(Number(row.at)));
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  });
  return {
    async stop() {
      running = false;
      await watching;
      return new Map([...claims].map(([name, set]) => [name, [...set].sort((a, b) => a - b)]));
    },
  };
}

/** Each periodic task: consecutive claims (database clock, µs) at least one interval apart, so
 *  never two runs in one interval on any instance; and it kept running through the restarts
 *  (run counts from the instances' logs). */
function checkPeriodic(instances: KeyholdProcess[], claims: Map<string, number[]>, observedSeconds: number) {
  const result: Record<string, { runs: number; byInstance: number[]; claimsSeen: number; minGapMs: number }> = {};
  for (const [task, seconds] of Object.entries(INTERVALS)) {
    const starts = claims.get(task) ?? [];
    const gapsUs = starts.slice(1).map((at, i) => at - starts[i]!);
    const minGapMs = Math.min(...gapsUs) / 1000;
    assert.ok(minGapMs >= seconds * 1000, `${task}: two runs ${minGapMs} ms apart (interval ${seconds} s)`);
    const byInstance = instances.map((instance) => instance.logs.filter((l) => l.msg === 'periodic task done' && l.task === task).length);
    const runs = byInstance.reduce((a, b) => a + b, 0);
    assert.ok(runs >= observedSeconds / seconds / 3, `${task}: kept running (${runs} runs in ${observedSeconds} s)`);
    result[task] = { runs, byInstance, claimsSeen: starts.length, minGapMs: Math.round(minGapMs) };
  }
  return result;
}

/** Jobs by kind, and how many took more than one attempt (none should: SIGTERM lets the job in flight finish). */
async function jobAttempts(url: string): Promise<{ byKind: Record<string, number>; retried: number }> {
  return withClient(url, async (client) => {
    const { rows } = await client.query<{ kind: string; n: number; retried: number }>(
      `SELECT kind, count(*)::int AS n, count(*) FILTER (WHERE attempts > 1)::int AS retried FROM jobs GROUP BY kind`,
    );
    return { byKind: Object.fromEntries(rows.map((r) => [r.kind, r.n])), retried: rows.reduce((sum, r) => sum + r.retried, 0) };
  });
}

/** No attempt of a job overlapped another (a lease lost mid-run is how that would show); counts
 *  jobs that ran more than once (at least once allows it after a crash; SIGTERM should not). */
function checkJobRuns(instances: KeyholdProcess[]) {
  const lines: LogLine[] = instances.flatMap((i) => i.logs);
  const lost = lines.filter((l) => l.msg === 'job lease lost; result not recorded' || l.msg === 'periodic task lost its lease; stopping it');
  assert.deepEqual(lost, [], 'no job or periodic run lost its lease to a second runner');
  const succeeded = new Map<string, number>();
  for (const l of lines.filter((l) => l.msg === 'job succeeded')) {
    const id = (l.job as { id: string }).id;
    succeeded.set(id, (succeeded.get(id) ?? 0) + 1);
  }
  const twice = [...succeeded.values()].filter((n) => n > 1).length;
  assert.equal(twice, 0, 'no job succeeded twice');
  // A retry is allowed (at least once); why each happened is worth seeing.
  const retryReasons = lines.filter((l) => l.msg.startsWith('job failed')).map((l) => `${(l.job as { kind: string }).kind}: ${String(l.reason)}`);
  return { succeeded: succeeded.size, succeededTwice: twice, retryReasons };
}
