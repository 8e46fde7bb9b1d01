// `keyhold webhooks …` run as the real binary: add (secret once), list, rotate-secret, test,
// remove, and the URL guard's refusal as one clear line. On PostgreSQL a server shares the
// database, so `test` waits for a real delivery.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestApp } from './helpers/app.js';
import { runCli, runCliJson } from './helpers/cli.js';
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from './helpers/database.js';
import { startReceiver, verified, type Receiver } from './helpers/webhook-receiver.js';

describe('keyhold webhooks', { concurrency: true }, () => {
  for (const kind of DATABASE_KINDS) {
    describe(kind, { concurrency: false }, () => {
      let database: TestDatabase;
      let env: Record<string, string>;
      let receiver: Receiver;
      let hook: { id: string; secret: string };

      before(async () => {
        database = await createTestDatabase(kind, { persistent: true });
        env = { ...database.env, LOG_LEVEL: 'silent', WEBHOOK_ALLOW_INSECURE_URLS: 'true', SECRETS_ENCRYPTION_KEY: Buffer.alloc(32, 3).toString('base64') };
        receiver = await startReceiver();
      });
      after(async () => {
        await receiver.close();
        await database.drop();
      });

      it('add prints the secret once; list never shows it', async () => {
        const added = await runCli(['webhooks', 'add', `${receiver.url}/cli`, '--events', 'user.created,webhook.test'], { env });
        assert.equal(added.code, 1, 'webhook.test is not subscribable');
        assert.match(added.stderr, /events\.1: Unknown event type: webhook\.test/);
        hook = await runCliJson(['webhooks', 'add', `${receiver.url}/cli`, '--events', 'user.created', '--description', 'from the CLI'], { env });
        assert.match(hook.secret, /^whsec_/);
        const listed = await runCli(['webhooks', 'list'], { env });
        assert.equal(listed.code, 0);
        assert.ok(listed.stdout.includes(hook.id) && !listed.stdout.includes(hook.secret));
      });

      it('refuses a private address without the development flag, in one line', async () => {
        const refused = await runCli(['webhooks', 'add', 'https://10.0.0.1/hook'], { env: { ...env, WEBHOOK_ALLOW_INSECURE_URLS: 'false' } });
        assert.equal(refused.code, 1);
        assert.equal(refused.stderr.trim(), 'keyhold: url: URL must not point at a loopback, private, link-local or otherwise non-public address (10.0.0.1 is a private address)');
      });

      it('rotate-secret prints a new secret; test sends webhook.test signed with both', async () => {
        const rotated = await runCliJson(['webhooks', 'rotate-secret', hook.id], { env });
        assert.notEqual(rotated.secret, hook.secret);
        if (kind === 'pglite') {
          // The embedded database is one process at a time: no server can deliver meanwhile, so
          // the command says so at once (it used to queue the event and wait 15 s in vain).
          const started = Date.now();
          const refused = await runCli(['webhooks', 'test', hook.id], { env, timeoutMs: 60_000 });
          assert.equal(refused.code, 1);
          assert.equal(refused.stderr.split('\n').filter(Boolean).length, 1, refused.stderr);
          assert.match(refused.stderr, /^keyhold: webhooks test needs a running server .* POST \/api\/v1\/admin\/webhooks\/[0-9a-f-]+\/test/);
          assert.ok(Date.now() - started < 10_000, 'no 15 s wait');
          return;
        }
        let server: TestApp | undefined;
        try {
          server = await startTestApp('postgres', { database, env: { WEBHOOK_ALLOW_INSECURE_URLS: 'true', OUTBOX_POLL_INTERVAL_MS: '100', SECRETS_ENCRYPTION_KEY: env.SECRETS_ENCRYPTION_KEY! } });
          // The server's own secret box must open what the CLI sealed: same key.
          server.app.ctx.secrets.open(
            (await server.app.ctx.db.selectFrom('webhook_endpoints').select('secret').where('id', '=', hook.id).executeTakeFirstOrThrow()).secret,
            `webhook-secret:${hook.id}`,
          );
        } catch (err) {
          await server?.close();
          throw err;
        }
        try {
          const delivered = await runCliJson(['webhooks', 'test', hook.id], { env, timeoutMs: 60_000 });
          assert.equal(delivered.status, 'succeeded');
          const request = receiver.received.at(-1)!;
          assert.equal(verified(rotated.secret, request).type, 'webhook.test');
          verified(hook.secret, request);
        } finally {
          await server.close();
        }
      });

      it('remove deletes it; an unknown id is one line', async () => {
        assert.equal((await runCli(['webhooks', 'remove', hook.id], { env })).code, 0);
        const again = await runCli(['webhooks', 'remove', hook.id], { env });
        assert.equal(again.code, 1);
        assert.equal(again.stderr.trim(), 'keyhold: Webhook not found');
        if (kind === 'postgres') assert.equal((await runCli(['webhooks', 'test', 'not-an-id'], { env })).stderr.trim(), 'keyhold: Webhook not found');
      });
    });
  }
});
