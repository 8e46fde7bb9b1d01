// Webhook delivery under faults: a receiver down then up (delivered, the same webhook-id on
// every attempt, each delivery retried on its own), one that hangs (timeout, retried), 5xx and
// 3xx answers (retried, the redirect not followed), an endpoint failing past the schedule
// (disabled, audited), and the server killed mid-delivery (delivered after the restart).
// Retry delays are shortened (the schedule is injectable), never slept through.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { programArgs } from './helpers/entry.js';
import { ensureAdmin } from '../src/modules/admin/create-admin.js';
import { maxAttempts, RETRY_DELAYS_MS, GIVE_UP_AFTER_MS } from '../src/modules/webhooks/webhook-jobs.js';
import { startTestApp, TEST_ENV, type TestApp } from './helpers/app.js';
import { freePort } from './helpers/ports.js';
import { createTestDatabase } from './helpers/database.js';
import { PASSWORD, registerUser, signIn, uniqueEmail } from './helpers/fixtures.js';
import { waitFor } from './helpers/jobs.js';
import { startReceiver, verified, type Receiver } from './helpers/webhook-receiver.js';

describe('webhook delivery under faults', () => {
  let t: TestApp;
  let token: string;
  let receiver: Receiver;

  before(async () => {
    t = await startTestApp('pglite', {
      env: { WEBHOOK_ALLOW_INSECURE_URLS: 'true', OUTBOX_POLL_INTERVAL_MS: '100' },
      webhooks: { retryDelaysMs: [150], giveUpAfterMs: 60_000, timeoutMs: 400, leaseSeconds: 30 },
    });
    receiver = await startReceiver();
    const email = uniqueEmail('admin');
    await ensureAdmin(t.app.ctx, { email, password: PASSWORD, name: 'Ada Admin' });
    token = (await signIn(t.api, email)).accessToken;
  });
  after(async () => {
    await t.close();
    await receiver.close();
  });

  async function endpoint(path: string, events: string[] = ['user.created']): Promise<{ id: string; secret: string }> {
    const res = await t.api.post('/admin/webhooks', { url: `${receiver.url}${path}`, events }, token);
    assert.equal(res.status, 201);
    return res.body;
  }
  const deliveries = async (id: string) => (await t.api.get(`/admin/webhooks/${id}/deliveries?limit=200`, token)).body as any[];
  const at = (path: string) => receiver.received.filter((r) => r.path === path);

  it('the schedule is the contract’s: 5 s, 1 min, 5 min, 30 min, 2 h, 6 h, then 12 h, for up to 3 days', () => {
    assert.deepEqual(RETRY_DELAYS_MS.map((ms) => ms / 1000), [5, 60, 300, 1800, 7200, 21600, 43200]);
    // 11 retries: the last about 68.6 hours after the first attempt; one more would pass 72 hours.
    assert.equal(maxAttempts(RETRY_DELAYS_MS, GIVE_UP_AFTER_MS), 12);
  });

  it('receiver down, then up: everything delivered, the same webhook-id on every attempt, no delivery waiting behind another', async () => {
    const hook = await endpoint('/ordered');
    let refusals = 0;
    receiver.answer = (r) => (r.path === '/ordered' && refusals++ < 3 ? 503 : 204);
    await receiver.stop(); // down: connections refused
    const users = [];
    for (let i = 0; i < 5; i++) users.push(await registerUser(t.api, { email: uniqueEmail(`order${i}`) }));
    // Each delivery retries on its own schedule: none waits behind the first.
    await waitFor('retries of every delivery', async () => (await deliveries(hook.id)).filter((d) => d.attempt >= 2).length === 5);
    await receiver.start(); // up, but answering 503 three times first
    await waitFor('all five delivered', async () => (await deliveries(hook.id)).filter((d) => d.status === 'succeeded').length === 5, 10_000);

    const received = at('/ordered').map((r) => ({ id: String(r.headers['webhook-id']), body: verified(hook.secret, r) }));
    assert.equal(received.length, 5 + 3, 'each delivered once, after three 503s');
    const byId = new Map<string, Set<string>>();
    for (const r of received) byId.set(r.id, (byId.get(r.id) ?? new Set()).add(JSON.stringify(r.body)));
    assert.equal(byId.size, 5, 'one webhook-id per event');
    assert.ok([...byId.values()].every((bodies) => bodies.size === 1), 'every attempt of a delivery carries its event');
    assert.deepEqual(new Set(received.map((r) => r.body.data.email)), new Set(users.map((u) => u.email)));
    assert.ok((await deliveries(hook.id)).every((d) => d.attempt >= 2), 'refused while down, then retried');
    receiver.answer = () => 204;
  });

  it('a receiver that hangs: the attempt times out and is retried', async () => {
    const hook = await endpoint('/hang');
    let calls = 0;
    receiver.answer = (r) => (r.path === '/hang' && calls++ === 0 ? 'hang' : 204);
    await registerUser(t.api);
    await waitFor('delivered after the timeout', async () => (await deliveries(hook.id))[0]?.status === 'succeeded', 8000);
    const [delivery] = await deliveries(hook.id);
    assert.equal(delivery.attempt, 2);
    const requests = at('/hang');
    assert.equal(requests.length, 2);
    assert.equal(requests[0]!.headers['webhook-id'], requests[1]!.headers['webhook-id']);
    assert.ok(t.logs.some((line) => line.includes('will retry') && line.includes('no answer within 400 ms')), 'the timeout was the failure');
    receiver.answer = () => 204;
  });

  it('5xx and 3xx answers are retried; the redirect is not followed', async () => {
    const hook = await endpoint('/statuses');
    const answers = [500, 302, 307, 204];
    receiver.answer = (r) => (r.path === '/statuses' ? answers.shift()! : 204);
    await registerUser(t.api);
    await waitFor('delivered', async () => (await deliveries(hook.id))[0]?.status === 'succeeded', 8000);
    const [delivery] = await deliveries(hook.id);
    assert.equal(delivery.attempt, 4);
    assert.equal(delivery.response_status, 204);
    assert.equal(at('/elsewhere').length, 0, 'the Location was never requested');
    assert.equal(at('/statuses').length, 4);
    receiver.answer = () => 204;
  });

  it('an endpoint failing past the schedule is disabled, with an audit event; what was pending is given up', async () => {
    const short = await startTestApp('pglite', {
      env: { WEBHOOK_ALLOW_INSECURE_URLS: 'true', OUTBOX_POLL_INTERVAL_MS: '100' },
      webhooks: { retryDelaysMs: [50], giveUpAfterMs: 120, timeoutMs: 400 },
    });
    try {
      const email = uniqueEmail('admin');
      await ensureAdmin(short.app.ctx, { email, password: PASSWORD, name: 'Ada Admin' });
      const adminToken = (await signIn(short.api, email)).accessToken;
      const hook = (await short.api.post('/admin/webhooks', { url: `${receiver.url}/broken`, events: ['user.created'] }, adminToken)).body;
      receiver.answer = (r) => (r.path === '/broken' ? 500 : 204);
      await registerUser(short.api);
      await registerUser(short.api);
      await waitFor('disabled', async () => (await short.api.get(`/admin/webhooks/${hook.id}`, adminToken)).body.enabled === false, 8000);
      const log = (await short.api.get(`/admin/webhooks/${hook.id}/deliveries`, adminToken)).body;
      assert.deepEqual(log.map((d: any) => d.status), ['failed', 'failed']);
      // The first to exhaust the schedule (3 attempts) disabled the endpoint; the other was given
      // up with it, unless it had exhausted its own schedule first.
      assert.ok(log.some((d: any) => d.attempt === 3 && d.error === 'HTTP 500'), JSON.stringify(log));
      assert.ok(log.every((d: any) => d.error === 'HTTP 500' || d.error === 'Endpoint disabled'), JSON.stringify(log));
      const audit = (await short.api.get('/admin/audit-logs?action=webhook.endpoint_disabled', adminToken)).body;
      assert.equal(audit.length, 1);
      assert.equal(audit[0].resource_id, hook.id);
      // A disabled endpoint receives no new events.
      const before = at('/broken').length;
      await registerUser(short.api);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(at('/broken').length, before);

    } finally {
      await short.close();
      receiver.answer = () => 204;
    }
  });
});

describe('webhook delivery: one event type refused for good', () => {
  it('gives that delivery up after the schedule; an endpoint that took other events meanwhile stays enabled', async () => {
    // Three attempts, about a second apart.
    const t = await startTestApp('pglite', {
      env: { WEBHOOK_ALLOW_INSECURE_URLS: 'true', OUTBOX_POLL_INTERVAL_MS: '100' },
      webhooks: { retryDelaysMs: [1000], giveUpAfterMs: 2500, timeoutMs: 400 },
    });
    const receiver = await startReceiver();
    try {
      const email = uniqueEmail('admin');
      await ensureAdmin(t.app.ctx, { email, password: PASSWORD, name: 'Ada Admin' });
      const token = (await signIn(t.api, email)).accessToken;
      const picky = (await t.api.post('/admin/webhooks', { url: `${receiver.url}/picky`, events: ['user.created'] }, token)).body;
      receiver.answer = (r) => (r.body.includes('"user.created"') ? 500 : 204);
      await registerUser(t.api);
      // While the refused delivery retries, another event reaches the endpoint.
      await t.api.post(`/admin/webhooks/${picky.id}/test`, {}, token);
      const log = async () => (await t.api.get(`/admin/webhooks/${picky.id}/deliveries`, token)).body as any[];
      await waitFor('the refused event given up', async () => (await log()).some((d) => d.type === 'user.created' && d.status === 'failed'), 15_000);
      assert.deepEqual((await log()).map((d) => [d.type, d.status, d.attempt]), [['webhook.test', 'succeeded', 1], ['user.created', 'failed', 3]]);
      assert.equal((await t.api.get(`/admin/webhooks/${picky.id}`, token)).body.enabled, true);
      assert.equal((await t.api.get('/admin/audit-logs?action=webhook.endpoint_disabled', token)).body.length, 0);
    } finally {
      await t.close();
      await receiver.close();
    }
  });
});

describe('webhook delivery: the server killed mid-delivery (postgres)', { skip: process.env.TEST_DATABASE_URL ? false : 'needs TEST_DATABASE_URL (a PostgreSQL both server processes share)' }, () => {
  let receiver: Receiver;
  let databaseUrl: string;
  let drop: () => Promise<void>;
  const children: ChildProcess[] = [];

  before(async () => {
    const database = await createTestDatabase('postgres');
    databaseUrl = database.url!;
    drop = () => database.drop();
    receiver = await startReceiver();
  });
  after(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await receiver.close();
    await drop();
  });

  async function startServer(port: number, adminEmail: string): Promise<ChildProcess> {
    const child = spawn(process.execPath, programArgs('server'), {
      env: {
        ...process.env,
        ...TEST_ENV,
        PORT: String(port),
        DATABASE_URL: databaseUrl,
        WEBHOOK_ALLOW_INSECURE_URLS: 'true',
        OUTBOX_POLL_INTERVAL_MS: '100',
        BOOTSTRAP_ADMIN_EMAIL: adminEmail,
        BOOTSTRAP_ADMIN_PASSWORD: PASSWORD,
        SECRETS_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    children.push(child);
    await waitFor('server ready', async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.ok, 30_000);
    return child;
  }

  it('delivers after the restart, with the same webhook-id', async () => {
    const port = await freePort();
    const adminEmail = uniqueEmail('admin');
    const api = `http://127.0.0.1:${port}/api/v1`;
    const first = await startServer(port, adminEmail);
    const login: any = await (await fetch(`${api}/auth/login/json`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: adminEmail, password: PASSWORD }) })).json();
    const auth = { 'content-type': 'application/json', authorization: `Bearer ${login.access_token}` };
    const hook: any = await (await fetch(`${api}/admin/webhooks`, { method: 'POST', headers: auth, body: JSON.stringify({ url: `${receiver.url}/killed`, events: ['user.created'] }) })).json();

    // The first attempt reaches the receiver, which holds it; the server dies meanwhile.
    receiver.answer = () => 'hang';
    const email = uniqueEmail('survivor');
    await fetch(`${api}/auth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password: PASSWORD, name: 'Survivor' }) });
    await waitFor('the first attempt', async () => receiver.received.length >= 1, 10_000);
    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));
    receiver.answer = () => 204;

    // The dead worker's lease would run out in 60 s: move the clock on instead of waiting.
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      const { rows } = await client.query(`UPDATE jobs SET next_attempt_at = now() WHERE kind = 'webhook' AND status = 'pending' RETURNING attempts`);
      assert.deepEqual(rows.map((r) => r.attempts), [1], 'the attempt in flight was claimed, not finished');
      await startServer(port, adminEmail);
      await waitFor('delivered after the restart', async () => receiver.received.length >= 2, 20_000);
      const [lost, delivered] = receiver.received;
      assert.equal(delivered!.headers['webhook-id'], lost!.headers['webhook-id']);
      assert.equal(verified(hook.secret, delivered!).data.email, email);
      const status = await waitFor('recorded', async () => {
        const { rows: d } = await client.query(`SELECT status, attempts FROM webhook_deliveries WHERE endpoint_id = $1`, [hook.id]);
        return d[0]?.status === 'succeeded' ? d[0] : undefined;
      });
      assert.equal(status.attempts, 2);
    } finally {
      await client.end();
    }
  });
});
