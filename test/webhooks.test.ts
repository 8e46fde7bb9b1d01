// Webhooks: the admin API, every catalogued event fired once by its change with its payload and
// a signature the standardwebhooks library accepts, nothing for a rolled-back change, secret
// rotation, and the SSRF guard (without WEBHOOK_ALLOW_INSECURE_URLS).
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import pg from 'pg';
import { ensureAdmin } from '../src/modules/admin/create-admin.js';
import { emitEvent, newEventId } from '../src/modules/events/emit-event.js';
import { enqueue } from '../src/modules/jobs/jobs.repo.js';
import type { Resolver } from '../src/modules/webhooks/url-guard.js';
import { systemResolver } from '../src/modules/webhooks/url-guard.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { DATABASE_KINDS } from './helpers/database.js';
import { PASSWORD, registerAndSignIn, registerUser, signIn, uniqueEmail, type SignedInUser } from './helpers/fixtures.js';
import { countingStatements, queuedEmails, waitFor } from './helpers/jobs.js';
import { openDatabase } from '../src/db/database.js';
import { inUnitOfWork } from '../src/db/unit-of-work.js';
import { createJobQueue } from '../src/modules/jobs/job-queue.js';
import { registerWebhookJobs } from '../src/modules/webhooks/webhook-jobs.js';
import { startReceiver, verified, type Receiver, type ReceivedWebhook } from './helpers/webhook-receiver.js';

const FAST = { retryDelaysMs: [100], giveUpAfterMs: 60_000, timeoutMs: 2000, leaseSeconds: 5 };

async function makeAdmin(t: TestApp): Promise<SignedInUser> {
  const email = uniqueEmail('admin');
  const { user } = await ensureAdmin(t.app.ctx, { email, password: PASSWORD, name: 'Ada Admin' });
  return { id: user.id, email, password: PASSWORD, ...(await signIn(t.api, email)) };
}

const tokenIn = (text: string | null): string => /token=([^\s&"]+)/.exec(text ?? '')![1]!;

for (const kind of DATABASE_KINDS) {
  describe(`webhooks (${kind})`, () => {
    let t: TestApp;
    let admin: SignedInUser;
    let receiver: Receiver;
    let secret: string;
    let endpointId: string;

    before(async () => {
      t = await startTestApp(kind, { env: { WEBHOOK_ALLOW_INSECURE_URLS: 'true', OUTBOX_POLL_INTERVAL_MS: '200' }, webhooks: FAST });
      receiver = await startReceiver();
      admin = await makeAdmin(t);
      const created = await t.api.post('/admin/webhooks', { url: `${receiver.url}/hook`, description: 'everything' }, admin.accessToken);
      assert.equal(created.status, 201, JSON.stringify(created.body));
      secret = created.body.secret;
      endpointId = created.body.id;
    });
    after(async () => {
      await t.close();
      await receiver.close();
    });

    /** Waits for `n` deliveries of `type` matching `where`, verifies each signature, returns their bodies. */
    async function events(type: string, where: (data: any) => boolean, n = 1): Promise<Array<{ request: ReceivedWebhook; data: any }>> {
      const matching = () =>
        receiver.received
          .map((request) => ({ request, body: verified(secret, request) }))
          .filter(({ body }) => body.type === type && where(body.data))
          .map(({ request, body }) => ({ request, data: body.data }));
      await waitFor(`${n} ${type}`, async () => matching().length >= n);
      await new Promise((r) => setTimeout(r, 50)); // a duplicate would show up now
      const found = matching();
      assert.equal(found.length, n, `${type} fired ${found.length} times`);
      return found;
    }

    it('manages endpoints: create (secret once), list, get, patch, 422 for unknown types and bad URLs, 404 for unknown ids', async () => {
      assert.match(secret, /^whsec_[A-Za-z0-9+/]+=*$/);
      const listed = await t.api.get('/admin/webhooks', admin.accessToken);
      assert.equal(listed.status, 200);
      assert.ok(listed.body.some((w: any) => w.id === endpointId && w.secret === undefined && w.events === null && w.enabled === true));
      const stored = await t.app.ctx.db.selectFrom('webhook_endpoints').select('secret').where('id', '=', endpointId).executeTakeFirstOrThrow();
      assert.ok(!stored.secret.includes(secret.slice(6)), 'the secret is sealed at rest');

      const unknown = await t.api.post('/admin/webhooks', { url: `${receiver.url}/x`, events: ['user.created', 'user.exploded'] }, admin.accessToken);
      assert.equal(unknown.status, 422);
      assert.deepEqual(unknown.body.detail[0].loc, ['body', 'events', 1]);
      assert.match(unknown.body.detail[0].msg, /Unknown event type: user\.exploded/);
      assert.equal((await t.api.post('/admin/webhooks', { url: 'ftp://example.com/x' }, admin.accessToken)).status, 422);
      assert.equal((await t.api.post('/admin/webhooks', {}, admin.accessToken)).status, 422);

      const missing = '00000000-0000-4000-8000-000000000000';
      for (const [method, path] of [['GET', ''], ['PATCH', ''], ['DELETE', ''], ['GET', '/deliveries'], ['POST', '/rotate-secret'], ['POST', '/test']] as const) {
        const res = await t.api.request(method, `/admin/webhooks/${missing}${path}`, { token: admin.accessToken, json: method === 'PATCH' ? { enabled: false } : method === 'POST' ? {} : undefined });
        assert.equal(res.status, 404, `${method} ${path}`);
        assert.deepEqual(res.body, { detail: 'Webhook not found', code: 'webhook_not_found' });
      }
      const user = await registerAndSignIn(t.api);
      assert.equal((await t.api.get('/admin/webhooks', user.accessToken)).status, 403);
      assert.equal((await t.api.get('/admin/webhooks')).status, 401);

      const other = await t.api.post('/admin/webhooks', { url: `${receiver.url}/other`, events: ['user.deleted'] }, admin.accessToken);
      const patched = await t.api.patch(`/admin/webhooks/${other.body.id}`, { description: 'renamed', events: ['user.created'], enabled: false }, admin.accessToken);
      assert.equal(patched.status, 200);
      assert.deepEqual([patched.body.description, patched.body.events, patched.body.enabled], ['renamed', ['user.created'], false]);
      assert.equal((await t.api.delete(`/admin/webhooks/${other.body.id}`, admin.accessToken)).status, 204);
      assert.equal((await t.api.get(`/admin/webhooks/${other.body.id}`, admin.accessToken)).status, 404);
      const audit = await t.api.get('/admin/audit-logs?action=webhook.endpoint_created', admin.accessToken);
      assert.ok(audit.body.length >= 2);
    });

    it('fires each event once for its change, with the documented payload, signed (standardwebhooks verifies)', async () => {
      // user.created, subscription.created (personal account), session.created (login)
      const owner = await registerAndSignIn(t.api, { name: 'Olive Owner' });
      const [created] = await events('user.created', (d) => d.id === owner.id);
      assert.equal(created!.data.email, owner.email);
      assert.equal(created!.data.password_hash, undefined);
      assert.equal(created!.request.headers['content-type'], 'application/json');
      assert.match(String(created!.request.headers['webhook-id']), /^msg_[0-9a-f]{32}$/);
      const [subscription] = await events('subscription.created', (d) => d.account_id === created!.data.account_id);
      assert.deepEqual(Object.keys(subscription!.data).sort(), ['account_id', 'current_period_end', 'id', 'plan', 'status']);
      const [session] = await events('session.created', (d) => d.user_id === owner.id);
      assert.deepEqual(session!.data.amr, ['pwd']);
      assert.equal(session!.data.aal, 'aal1');
      assert.equal(session!.data.ip, '127.0.0.1');

      // user.updated (profile)
      await t.api.patch('/auth/me', { name: 'Olive O.' }, owner.accessToken);
      await events('user.updated', (d) => d.id === owner.id && d.name === 'Olive O.');

      // user.email_verified
      const [verification] = await queuedEmails(t.app.ctx.db, { to: owner.email, template: 'verify_email' });
      assert.equal((await t.api.post('/auth/email/verify', { token: tokenIn(verification!.text) })).status, 200);
      await events('user.email_verified', (d) => d.id === owner.id && d.email_verified_at !== null);

      // account.invite_created, then the invitee joins: user.created + account.member_added (no subscription)
      const inviteeEmail = uniqueEmail('invitee');
      const invite = await t.api.post('/accounts/me/invites', { email: inviteeEmail, role: 'member' }, owner.accessToken);
      assert.equal(invite.status, 201);
      const [invited] = await events('account.invite_created', (d) => d.id === invite.body.id);
      assert.deepEqual(invited!.data, { id: invite.body.id, account_id: created!.data.account_id, email: inviteeEmail, role: 'member', expires_at: invite.body.expires_at });
      assert.equal(JSON.stringify(invited!.data).includes(invite.body.code), false, 'no invite code in the event');
      const member = await registerAndSignIn(t.api, { email: inviteeEmail, account_invite_code: invite.body.code });
      const [added] = await events('account.member_added', (d) => d.user_id === member.id);
      assert.deepEqual(added!.data, { account_id: created!.data.account_id, user_id: member.id, role: 'member' });

      // account.member_role_changed
      await t.api.patch(`/accounts/me/members/${member.id}`, { account_role: 'admin' }, owner.accessToken);
      const [changed] = await events('account.member_role_changed', (d) => d.user_id === member.id);
      assert.deepEqual(changed!.data, { account_id: created!.data.account_id, user_id: member.id, role: 'admin', previous_role: 'member' });

      // account.member_removed: their session revoked, a personal account with its subscription
      assert.equal((await t.api.delete(`/accounts/me/members/${member.id}`, owner.accessToken)).status, 204);
      await events('account.member_removed', (d) => d.user_id === member.id && d.role === 'admin');
      const [revokedMember] = await events('session.revoked', (d) => d.user_id === member.id);
      assert.equal(revokedMember!.data.reason, 'member_removed');
      const moved = await t.app.ctx.db.selectFrom('users').select('account_id').where('id', '=', member.id).executeTakeFirstOrThrow();
      await events('subscription.created', (d) => d.account_id === moved.account_id);

      // user.password_changed (change) with session.revoked for the sessions it ended
      const changedPassword = 'another horse battery staple';
      assert.equal((await t.api.post('/auth/password/change', { current_password: PASSWORD, new_password: changedPassword }, owner.accessToken)).status, 200);
      await events('user.password_changed', (d) => d.id === owner.id);
      const ownerRevoked = await events('session.revoked', (d) => d.user_id === owner.id && d.reason === 'password_changed');
      assert.equal(ownerRevoked[0]!.data.id, session!.data.id);

      // user.password_changed (reset)
      await t.api.post('/auth/password/forgot', { email: owner.email });
      const reset = await waitFor('reset email', async () => (await queuedEmails(t.app.ctx.db, { to: owner.email, template: 'reset_password' }))[0]);
      assert.equal((await t.api.post('/auth/password/reset', { token: tokenIn(reset.text), new_password: PASSWORD })).status, 200);
      await events('user.password_changed', (d) => d.id === owner.id, 2);

      // session.revoked (logout)
      const again = await signIn(t.api, owner.email);
      await events('session.created', (d) => d.user_id === owner.id, 2);
      await t.api.post('/auth/logout', { refresh_token: again.refreshToken }, again.accessToken);
      await events('session.revoked', (d) => d.user_id === owner.id && d.reason === 'logout');

      // user.deactivated (with its sessions), user.reactivated, user.updated (role) by an admin
      const third = await signIn(t.api, owner.email);
      assert.ok(third.accessToken);
      await t.api.patch(`/admin/users/${owner.id}`, { is_active: false }, admin.accessToken);
      await events('user.deactivated', (d) => d.id === owner.id && d.is_active === false);
      await events('session.revoked', (d) => d.user_id === owner.id && d.reason === 'user_deactivated');
      await t.api.patch(`/admin/users/${owner.id}`, { is_active: true }, admin.accessToken);
      await events('user.reactivated', (d) => d.id === owner.id && d.is_active === true);
      await t.api.patch(`/admin/users/${owner.id}`, { role: 'admin' }, admin.accessToken);
      await events('user.updated', (d) => d.id === owner.id && d.role === 'admin');

      // webhook.test
      const test = await t.api.post(`/admin/webhooks/${endpointId}/test`, {}, admin.accessToken);
      assert.equal(test.status, 202);
      assert.equal(test.body.type, 'webhook.test');
      const [pinged] = await events('webhook.test', () => true);
      assert.equal(pinged!.request.headers['webhook-id'], test.body.event_id);

      // The delivery log: newest first, each succeeded on its first attempt.
      const log = await t.api.get(`/admin/webhooks/${endpointId}/deliveries?limit=5`, admin.accessToken);
      assert.equal(log.status, 200);
      assert.equal(log.body.length, 5);
      assert.equal(log.body[0].event_id, test.body.event_id);
      for (const d of log.body) {
        assert.equal(d.status, 'succeeded');
        assert.equal(d.attempt, 1);
        assert.equal(d.response_status, 204);
        assert.equal(typeof d.duration_ms, 'number');
        assert.equal(d.error, null);
      }
    });

    it('sends nothing for a rolled-back change', async () => {
      const ctx = t.app.ctx;
      const marker = uniqueEmail('rolled-back');
      await assert.rejects(
        ctx.db.transaction().execute(async (trx) => {
          await emitEvent(ctx, trx, { type: 'user.deleted', data: { id: '00000000-0000-4000-8000-000000000001', email: marker, account_id: '00000000-0000-4000-8000-000000000002' } });
          throw new Error('rolled back');
        }),
      );
      // A duplicate registration fails and emits nothing either.
      const first = await registerAndSignIn(t.api);
      assert.equal((await t.api.post('/auth/register', { email: first.email, password: PASSWORD, name: 'Twin' })).status, 400);
      // A later committed event arrives; the rolled-back one never does.
      const test = await t.api.post(`/admin/webhooks/${endpointId}/test`, {}, admin.accessToken);
      await waitFor('the later event', async () => receiver.received.some((r) => r.headers['webhook-id'] === test.body.event_id));
      await new Promise((r) => setTimeout(r, 300));
      assert.ok(!receiver.received.some((r) => r.body.includes(marker)));
      await events('user.created', (d) => d.email === first.email);
    });

    it('an endpoint gets the events of changes made from its creation on; a pre-0.3 backlog queued before it is not fanned out to it', async () => {
      const ctx = t.app.ctx;
      const late = await t.api.post('/admin/webhooks', { url: `${receiver.url}/late`, events: ['user.deleted'] }, admin.accessToken);
      assert.equal(late.status, 201);
      const before = uniqueEmail('before-endpoint');
      const afterwards = uniqueEmail('after-endpoint');
      const deleted = (email: string) => ({ id: '00000000-0000-4000-8000-000000000003', email, account_id: '00000000-0000-4000-8000-000000000004' });
      // An event a version before 0.3 queued pending (to be fanned out by the `event` lane) a
      // moment before the new endpoint existed, and fanned out only now. The times compared are
      // the database's, whatever the app's clock says.
      const { receives_events_since: since } = await ctx.db.selectFrom('webhook_endpoints').select('receives_events_since').where('id', '=', late.body.id).executeTakeFirstOrThrow();
      await ctx.db.transaction().execute(async (trx) => {
        const id = await enqueue(trx, 'event', { id: newEventId(), type: 'user.deleted', timestamp: new Date().toISOString(), data: deleted(before) });
        await sql`UPDATE jobs SET created_at = ${new Date(since.getTime() - 1)} WHERE id = ${id}`.execute(trx);
      });
      // A change made now writes its event's deliveries itself, the new endpoint's among them.
      await ctx.db.transaction().execute((trx) => emitEvent(ctx, trx, { type: 'user.deleted', data: deleted(afterwards) }));
      ctx.jobs.notify();
      await waitFor('the later event at the new endpoint', async () => receiver.received.some((r) => r.path === '/late' && r.body.includes(afterwards)));
      // The first endpoint, older than both, gets both.
      await waitFor('the earlier event at the older endpoint', async () => receiver.received.some((r) => r.path === '/hook' && r.body.includes(before)));
      assert.ok(!receiver.received.some((r) => r.path === '/late' && r.body.includes(before)), 'the older event is not sent to the newer endpoint');
      assert.equal((await t.api.delete(`/admin/webhooks/${late.body.id}`, admin.accessToken)).status, 204);
      // (The other tests verify every request with the first endpoint's secret.)
      receiver.received.splice(0, receiver.received.length, ...receiver.received.filter((r) => r.path !== '/late'));
    });

    it('an endpoint deleted or disabled while a change writes its event: the change commits, and that endpoint gets no delivery', { skip: kind !== 'postgres' && 'needs a second connection (PostgreSQL)' }, async () => {
      const ctx = t.app.ctx;
      for (const end of ['DELETE FROM webhook_endpoints WHERE id = $1', 'UPDATE webhook_endpoints SET enabled = false WHERE id = $1']) {
        const doomed = await t.api.post('/admin/webhooks', { url: `${receiver.url}/doomed`, events: ['user.deleted'] }, admin.accessToken);
        assert.equal(doomed.status, 201);
        const other = new pg.Client({ connectionString: t.database.url });
        await other.connect();
        try {
          // Another transaction holds the endpoint's row lock (as an admin's PATCH or DELETE
          // does) when the change's statement reads the endpoint, and commits while it waits.
          await other.query('BEGIN');
          await other.query('SELECT id FROM webhook_endpoints WHERE id = $1 FOR UPDATE', [doomed.body.id]);
          await other.query(end, [doomed.body.id]);
          const data = { id: '00000000-0000-4000-8000-000000000005', email: uniqueEmail('racing'), account_id: '00000000-0000-4000-8000-000000000006' };
          const emitted = ctx.db.transaction().execute((trx) => emitEvent(ctx, trx, { type: 'user.deleted', data }));
          await new Promise((resolve) => setTimeout(resolve, 200));
          await other.query('COMMIT');
          const eventId = await emitted;
          const deliveries = await ctx.db.selectFrom('webhook_deliveries').select(['endpoint_id', 'status']).where('event_id', '=', eventId).execute();
          assert.ok(!deliveries.some((d) => d.endpoint_id === doomed.body.id), `${end}: no delivery to the endpoint`);
          assert.ok(deliveries.some((d) => d.endpoint_id === endpointId), 'the other endpoint has its delivery');
        } finally {
          await other.end();
          await t.api.delete(`/admin/webhooks/${doomed.body.id}`, admin.accessToken);
        }
      }
    });

    it('a delivery handed over at its commit is sent with what its change read: the queue reads nothing back', { skip: kind !== 'postgres' && 'needs a second pool (PostgreSQL)' }, async () => {
      // A queue of its own, on a pool of its own (hand-overs go to the queues of the database
      // object the change is made on), its statements counted.
      const ctx = t.app.ctx;
      const pool = await openDatabase({ databaseUrl: ctx.config.databaseUrl!, dataDir: '', poolSize: 2 });
      const { counting, sent } = countingStatements(pool.db);
      const queue = createJobQueue({ db: counting, config: { ...ctx.config, outboxPollIntervalMs: 3_600_000 }, log: ctx.log });
      registerWebhookJobs(queue, { ...ctx, db: counting }, FAST);
      const claims = (): number => sent.filter((text) => text.includes('prepared:claim_due_job')).length;
      queue.start();
      try {
        await waitFor('the first poll’s claims (the event and webhook lanes)', async () => claims() === 2);
        const marker = uniqueEmail('handed');
        const data = { id: '00000000-0000-4000-8000-000000000003', email: marker, account_id: '00000000-0000-4000-8000-000000000004' };
        await inUnitOfWork({ db: counting, jobs: queue }, (trx) => emitEvent(ctx, trx, { type: 'user.deleted', data }));
        await events('user.deleted', (d) => d.email === marker);
        await waitFor('the attempt recorded', async () => sent.some((text) => text.includes('forget_job_with_webhook')));
        assert.equal(sent.filter((text) => text.includes('delivery_to_send')).length, 0, 'no read of the delivery');
        assert.equal(claims(), 2, 'no claim');
      } finally {
        await queue.stop();
        await pool.close();
      }
    });

    it('a receiver refusing one event still receives the events after it (no head-of-line blocking)', async () => {
      const picky = await t.api.post('/admin/webhooks', { url: `${receiver.url}/picky`, events: ['user.created', 'session.created'] }, admin.accessToken);
      assert.equal(picky.status, 201);
      const deliveries = async () => (await t.api.get(`/admin/webhooks/${picky.body.id}/deliveries`, admin.accessToken)).body as any[];
      // A bug on the receiver's side for one event type: user.created is refused, every time.
      receiver.answer = (r) => (r.path === '/picky' && r.body.includes('"user.created"') ? 503 : 204);
      try {
        const user = await registerUser(t.api, { email: uniqueEmail('refused') });
        await waitFor('the refused event retried', async () => (await deliveries()).some((d) => d.type === 'user.created' && d.attempt >= 2));
        // Later events reach the endpoint while the refused one is still retrying.
        await signIn(t.api, user.email);
        const test = await t.api.post(`/admin/webhooks/${picky.body.id}/test`, {}, admin.accessToken);
        const at = (type: string) => receiver.received.some((r) => r.path === '/picky' && r.body.includes(`"${type}"`) && (type !== 'webhook.test' || r.headers['webhook-id'] === test.body.event_id));
        await waitFor('the later events delivered', async () => at('session.created') && at('webhook.test'));
        const log = await deliveries();
        assert.deepEqual(log.find((d) => d.type === 'user.created')?.status, 'pending', 'the refused event is still being retried');
        assert.deepEqual(log.filter((d) => d.type !== 'user.created').map((d) => d.status), ['succeeded', 'succeeded']);
        // Each delivery carries its event's timestamp: receivers order by it.
        const [created, session] = ['user.created', 'session.created'].map((type) => JSON.parse(receiver.received.find((r) => r.path === '/picky' && r.body.includes(`"${type}"`))!.body).timestamp);
        assert.ok(Date.parse(created) <= Date.parse(session));
      } finally {
        assert.equal((await t.api.delete(`/admin/webhooks/${picky.body.id}`, admin.accessToken)).status, 204);
        receiver.answer = () => 204;
        await new Promise((r) => setTimeout(r, 300)); // a retry in flight lands now
        // (The other tests verify every request with the first endpoint's secret.)
        receiver.received.splice(0, receiver.received.length, ...receiver.received.filter((r) => r.path !== '/picky'));
      }
    });

    it('rotate-secret: signs with both secrets for 24 hours, then with the new one only', async () => {
      const rotated = await t.api.post(`/admin/webhooks/${endpointId}/rotate-secret`, {}, admin.accessToken);
      assert.equal(rotated.status, 200);
      assert.notEqual(rotated.body.secret, secret);
      const old = secret;
      const test = await t.api.post(`/admin/webhooks/${endpointId}/test`, {}, admin.accessToken);
      const request = await waitFor('test after rotation', async () => receiver.received.find((r) => r.headers['webhook-id'] === test.body.event_id));
      assert.equal(String(request.headers['webhook-signature']).split(' ').length, 2);
      verified(old, request);
      verified(rotated.body.secret, request);

      t.clock.advanceSeconds(24 * 3600 + 1);
      admin = { ...admin, ...(await signIn(t.api, admin.email)) }; // the old access token has expired
      const later = await t.api.post(`/admin/webhooks/${endpointId}/test`, {}, admin.accessToken);
      const laterRequest = await waitFor('test a day later', async () => receiver.received.find((r) => r.headers['webhook-id'] === later.body.event_id));
      assert.equal(String(laterRequest.headers['webhook-signature']).split(' ').length, 1);
      verified(rotated.body.secret, laterRequest);
      assert.throws(() => verified(old, laterRequest));
      secret = rotated.body.secret;
    });
  });
}

describe('webhook URLs: the SSRF guard (no WEBHOOK_ALLOW_INSECURE_URLS)', () => {
  let t: TestApp;
  let admin: SignedInUser;
  let listener: Server;
  let connections = 0;
  // rebind.test resolves to a public address at creation, to loopback afterwards.
  let rebound = false;
  const resolver: Resolver = async (hostname) => {
    if (hostname === 'loopback.test') return [{ address: '127.0.0.1', family: 4 }];
    if (hostname === 'mixed.test') return [{ address: '93.184.216.34', family: 4 }, { address: '::1', family: 6 }];
    if (hostname === 'public.test') return [{ address: '93.184.216.34', family: 4 }];
    if (hostname === 'rebind.test') return [{ address: rebound ? '127.0.0.1' : '93.184.216.34', family: 4 }];
    return systemResolver(hostname);
  };

  before(async () => {
    t = await startTestApp('pglite', { env: { OUTBOX_POLL_INTERVAL_MS: '200' }, webhooks: { ...FAST, resolver } });
    admin = await makeAdmin(t);
    listener = createServer((socket) => {
      connections += 1;
      socket.destroy();
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  });
  after(async () => {
    await t.close();
    await new Promise((resolve) => listener.close(resolve));
  });

  it('refuses http://, loopback, private, link-local, IPv4-mapped and names resolving to them, with 422 and a clear message', async () => {
    const refused: Array<[string, RegExp]> = [
      ['http://example.com/hook', /must use https:\/\//],
      ['https://127.0.0.1/hook', /127\.0\.0\.1 is a loopback address/],
      ['https://[::1]/hook', /::1 is a loopback address/],
      ['https://10.0.0.1/hook', /10\.0\.0\.1 is a private address/],
      ['https://169.254.169.254/latest/meta-data', /169\.254\.169\.254 is a linkLocal address/],
      ['https://[::ffff:127.0.0.1]/hook', /is a loopback address/],
      ['https://[fe80::1]/hook', /linkLocal/],
      ['https://224.0.0.1/hook', /multicast/],
      ['https://0.0.0.0/hook', /unspecified/],
      ['https://localhost/hook', /localhost resolves to (127\.0\.0\.1|::1) is a loopback address/],
      ['https://loopback.test/hook', /loopback\.test resolves to 127\.0\.0\.1 is a loopback address/],
      ['https://mixed.test/hook', /mixed\.test resolves to ::1/],
    ];
    for (const [url, message] of refused) {
      const res = await t.api.post('/admin/webhooks', { url }, admin.accessToken);
      assert.equal(res.status, 422, url);
      assert.deepEqual(res.body.detail[0].loc, ['body', 'url'], url);
      assert.match(res.body.detail[0].msg, message, url);
      if (url.startsWith('https://')) assert.match(res.body.detail[0].msg, /must not point at a loopback, private, link-local/, url);
    }
    const patch = await t.api.post('/admin/webhooks', { url: 'https://public.test/hook' }, admin.accessToken);
    assert.equal(patch.status, 201);
    assert.equal((await t.api.patch(`/admin/webhooks/${patch.body.id}`, { url: 'https://10.1.2.3/' }, admin.accessToken)).status, 422);
    assert.equal((await t.app.ctx.db.selectFrom('webhook_endpoints').select('id').where('url', 'like', '%127.0.0.1%').execute()).length, 0);
  });

  it('checks again at delivery, against the address connected to: a name rebound to loopback is refused', async () => {
    const created = await t.api.post('/admin/webhooks', { url: `https://rebind.test:${(listener.address() as { port: number }).port}/hook` }, admin.accessToken);
    assert.equal(created.status, 201);
    rebound = true;
    const test = await t.api.post(`/admin/webhooks/${created.body.id}/test`, {}, admin.accessToken);
    const delivery = await waitFor('a refused attempt', async () => {
      const log = await t.api.get(`/admin/webhooks/${created.body.id}/deliveries`, admin.accessToken);
      return log.body.find((d: any) => d.id === test.body.id && d.attempt >= 1);
    });
    assert.equal(delivery.status, 'pending');
    assert.match(delivery.error, /refused: rebind\.test resolves to 127\.0\.0\.1 is a loopback address/);
    assert.equal(connections, 0, 'no connection was made');
  });
});
