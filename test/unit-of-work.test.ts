// The unit of work (src/db/unit-of-work.ts): a change commits, then the queue wakes for what it
// queued. The queue here polls once a minute, so a change path that forgot to wake it would
// deliver its email or webhook a minute late and fail these waits of a few seconds. Also: no
// route or service wakes the queue by hand (notify() is the unit of work's and the queue's own).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensureAdmin } from '../src/modules/admin/create-admin.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { DATABASE_KINDS } from './helpers/database.js';
import { PASSWORD, registerAndSignIn, registerUser, signIn, uniqueEmail, type SignedInUser } from './helpers/fixtures.js';
import { repoRoot } from './helpers/repo-root.js';
import { scimClientFor, scimUser } from './helpers/scim.js';
import { smtpEnv, startSmtpServer, isResetEmail, type TestSmtpServer } from './helpers/smtp.js';
import { startReceiver, verified, type Receiver } from './helpers/webhook-receiver.js';

/** Far longer than any wait below: only a wake-up after the commit delivers in time. */
const SLOW_POLL_MS = '60000';
const PROMPT_MS = 5000;
const FAST = { retryDelaysMs: [100], giveUpAfterMs: 60_000, timeoutMs: 2000, leaseSeconds: 5 };

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );
}

describe('waking the queue by hand', () => {
  const root = repoRoot();
  const callers = sourceFiles(join(root, 'src'))
    .filter((file) => /\bnotify\(\)/.test(readFileSync(file, 'utf8').replace(/\/\/.*$|\/\*[\s\S]*?\*\//gm, '')))
    .map((file) => relative(root, file));

  it('is done by no route', () => {
    assert.deepEqual(callers.filter((file) => file.endsWith('.routes.ts')), []);
  });

  it('is done only by the unit of work and the queue itself', () => {
    assert.deepEqual(callers.filter((file) => !file.startsWith('src/modules/jobs/') && file !== 'src/db/unit-of-work.ts'), []);
  });
});

for (const kind of DATABASE_KINDS) {
  describe(`a change wakes the queue after its commit (${kind})`, () => {
    let t: TestApp;
    let smtp: TestSmtpServer;
    let receiver: Receiver;
    let admin: SignedInUser;
    let secret: string;

    before(async () => {
      smtp = await startSmtpServer();
      receiver = await startReceiver();
      t = await startTestApp(kind, {
        env: { ...smtpEnv(smtp), OUTBOX_POLL_INTERVAL_MS: SLOW_POLL_MS, WEBHOOK_ALLOW_INSECURE_URLS: 'true' },
        webhooks: FAST,
      });
      const email = uniqueEmail('admin');
      await ensureAdmin(t.app.ctx, { email, password: PASSWORD, name: 'Ada Admin' });
      admin = { id: '', email, password: PASSWORD, ...(await signIn(t.api, email)) };
      const hook = await t.api.post('/admin/webhooks', { url: `${receiver.url}/hook` }, admin.accessToken);
      assert.equal(hook.status, 201, JSON.stringify(hook.body));
      secret = hook.body.secret;
    });
    after(async () => {
      await t.close();
      await receiver.close();
      await smtp.close();
    });

    /** The webhook of `type` about `userId`, waiting at most PROMPT_MS. */
    async function webhook(type: string, userId: string): Promise<void> {
      const deadline = Date.now() + PROMPT_MS;
      for (;;) {
        const found = receiver.received.some((request) => {
          const event = verified(secret, request);
          return event.type === type && event.data?.id === userId;
        });
        if (found) return;
        if (Date.now() > deadline) assert.fail(`no ${type} webhook for ${userId} within ${PROMPT_MS} ms (the change did not wake the queue)`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }

    it('after a registration (user.created)', async () => {
      const { user } = await registerUser(t.api);
      await webhook('user.created', user.id);
    });

    it("after an admin's change to a user (user.updated)", async () => {
      const { user } = await registerUser(t.api);
      const updated = await t.api.patch(`/admin/users/${user.id}`, { role: 'admin' }, admin.accessToken);
      assert.equal(updated.status, 200, JSON.stringify(updated.body));
      await webhook('user.updated', user.id);
    });

    it('after a SCIM creation (user.created)', async () => {
      const owner = await registerAndSignIn(t.api);
      const scim = await scimClientFor(t, owner.accessToken);
      const email = uniqueEmail('scim');
      const created = await scim.post('/Users', scimUser(email, { emails: [{ value: email, type: 'work', primary: true }] }));
      assert.equal(created.status, 201, JSON.stringify(created.body));
      await webhook('user.created', created.body.id);
    });

    it('after a password-reset request (the email)', async () => {
      const { email } = await registerUser(t.api);
      assert.equal((await t.api.post('/auth/password/forgot', { email })).status, 200);
      await smtp.waitForMessage(email, PROMPT_MS, isResetEmail);
    });
  });
}
