// Email jobs and the queue's worker against a real SMTP server on loopback: delivery, bodies
// cleared after sending, retries through an outage, giving up, several instances, stop(), and
// the log fallback without SMTP_URL.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import type { DatabaseHandle } from '../src/db/database.js';
import { LOGGED_NOT_SENT, MAX_DELIVERY_ATTEMPTS } from '../src/modules/email/email-job.js';
import { retryDelayMs } from '../src/modules/jobs/job-queue.js';
import { noteEnqueued } from '../src/modules/jobs/local-queues.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { DATABASE_KINDS } from './helpers/database.js';
import { registerUser, uniqueEmail } from './helpers/fixtures.js';
import { queuedEmails, waitFor } from './helpers/jobs.js';
import { freePort } from './helpers/ports.js';
import { smtpEnv, startSmtpServer, tokenFromLink, type TestSmtpServer } from './helpers/smtp.js';

const EMAIL_FROM = 'Keyhold Test <auth@keyhold.test>';
const deliveryEnv = (server: { url: string }) => ({ ...smtpEnv(server), EMAIL_FROM });

const emailJobs = (t: TestApp, to: string) => queuedEmails(t.app.ctx.db, { to });

async function queueRaw(t: TestApp, to: string, subject: string, extra: { attempts?: number } = {}): Promise<string> {
  const payload = { template: 'verify_email', to, subject, text: `hello ${subject}`, html: `<p>${subject}</p>` };
  const row = await t.app.ctx.db
    .insertInto('jobs')
    .values({ kind: 'email', payload: JSON.stringify(payload), ...extra })
    .returning('id')
    .executeTakeFirstOrThrow();
  noteEnqueued(t.app.ctx.db, 'email'); // as enqueue() does: notify() wakes the email lane
  return row.id;
}

const worker = (t: TestApp) => t.app.ctx.jobs;

describe('retryDelayMs', () => {
  it('doubles from the poll interval up to an hour, with bounded jitter', () => {
    assert.equal(retryDelayMs(1, 2000, () => 0.5), 2000);
    assert.equal(retryDelayMs(2, 2000, () => 0.5), 4000);
    assert.equal(retryDelayMs(5, 2000, () => 0.5), 32_000);
    assert.equal(retryDelayMs(40, 2000, () => 0.5), 3_600_000);
    assert.equal(retryDelayMs(1, 2000, () => 0), 1600);
    assert.equal(retryDelayMs(1, 2000, () => 0.999_999), 2400);
  });
});

for (const kind of DATABASE_KINDS) {
  describe(`email delivery (${kind})`, () => {
    let smtp: TestSmtpServer;
    let t: TestApp;
    before(async () => {
      smtp = await startSmtpServer();
      t = await startTestApp(kind, { env: deliveryEnv(smtp) });
    });
    after(async () => {
      await t.close();
      await smtp.close();
    });

    it('sends the registration email with text and HTML bodies from EMAIL_FROM, then clears the bodies', async () => {
      const { email } = await registerUser(t.api);
      const message = await smtp.waitForMessage(email);
      assert.equal(message.subject, 'Verify your email address');
      assert.equal(message.from, 'auth@keyhold.test');
      assert.match(message.text, /http:\/\/frontend\.test\/verify-email\?token=/);
      assert.match(message.html, /<a href="http:\/\/frontend\.test\/verify-email\?token=/);
      assert.ok(tokenFromLink(message, '/verify-email').length > 20);
      assert.equal(message.headers.get('auto-submitted'), 'auto-generated');

      const [row] = await waitFor('job marked succeeded', async () => {
        const rows = await emailJobs(t, email);
        return rows[0]?.status === 'succeeded' && rows;
      });
      assert.equal(row!.text, null);
      assert.equal(row!.html, null);
      assert.equal(row!.subject, 'Verify your email address', 'what an operator needs stays');
      assert.equal(row!.attempts, 1);
      assert.ok(row!.finished_at instanceof Date);
      assert.ok(message.messageId.includes(row!.id), 'the job id is the Message-ID');
      // With SMTP configured no log line carries a link (and so no token).
      assert.ok(!t.logs.some((line) => line.includes('token=')), 'no token in the logs');
    });

    it('retries a temporary SMTP failure and records the error meanwhile', async () => {
      const to = uniqueEmail('retry');
      smtp.failNext(1);
      await queueRaw(t, to, 'retry me');
      worker(t).notify();
      const message = await smtp.waitForMessage(to);
      assert.equal(message.subject, 'retry me');
      const [row] = await waitFor('sent', async () => {
        const rows = await emailJobs(t, to);
        return rows[0]?.status === 'succeeded' && rows;
      });
      assert.equal(row!.attempts, 2);
      assert.equal(row!.last_error, null);
    });

    it(`gives up after ${MAX_DELIVERY_ATTEMPTS} attempts: status failed, bodies cleared`, async () => {
      const to = uniqueEmail('doomed');
      smtp.failNext(1);
      await queueRaw(t, to, 'doomed', { attempts: MAX_DELIVERY_ATTEMPTS - 1 });
      worker(t).notify();
      const [row] = await waitFor('failed', async () => {
        const rows = await emailJobs(t, to);
        return rows[0]?.status === 'failed' && rows;
      });
      assert.equal(row!.attempts, MAX_DELIVERY_ATTEMPTS);
      assert.match(row!.last_error ?? '', /451|Try again later/);
      assert.ok(row!.finished_at instanceof Date);
      assert.equal(row!.text, null);
      assert.equal(row!.html, null);
      assert.equal(smtp.messagesTo(to).length, 0);
    });

    it('stop() finishes the message in flight, then claims nothing more', async () => {
      // An app of its own, on a database of its own: stop() is final (it closes the mailer),
      // and no other worker may take the jobs this one is meant to claim.
      const own = await startTestApp(kind, { env: deliveryEnv(smtp) });
      smtp.setDelay(300);
      try {
        const to = uniqueEmail('inflight');
        await queueRaw(own, to, 'in flight');
        worker(own).notify();
        await waitFor('claimed', async () => (await emailJobs(own, to))[0]?.attempts === 1);
        // stop() is asked for while the first is being sent, and another is queued meanwhile.
        // A claim already under way when stop() came may still land on that one (it can be
        // the next statement the database runs): then stop() waits for it too, so it is sent,
        // never left half-done. Once stop() has returned, the worker claims nothing at all.
        const stopping = worker(own).stop();
        const duringTo = uniqueEmail('during-stop');
        await queueRaw(own, duringTo, 'during stop');
        await stopping;
        const [row] = await emailJobs(own, to);
        assert.equal(row!.status, 'succeeded', 'stop() waited for the send in flight');
        assert.equal(smtp.messagesTo(to).length, 1);
        const [during] = await emailJobs(own, duringTo);
        assert.ok(
          (during!.status === 'pending' && during!.attempts === 0) || (during!.status === 'succeeded' && smtp.messagesTo(duringTo).length === 1),
          `the job queued during stop() is untouched or was finished: ${during!.status}, ${during!.attempts} attempts`,
        );
        const afterTo = uniqueEmail('after-stop');
        await queueRaw(own, afterTo, 'after stop');
        worker(own).notify();
        await new Promise((resolve) => setTimeout(resolve, 5 * Number(own.app.ctx.config.outboxPollIntervalMs)));
        const [later] = await emailJobs(own, afterTo);
        assert.deepEqual([later!.status, later!.attempts], ['pending', 0], 'the stopped worker claimed nothing more');
      } finally {
        smtp.setDelay(0);
        await own.close();
      }
    });

    it('two instances on one database send each message exactly once', async () => {
      const second = await startTestApp(kind, {
        env: deliveryEnv(smtp),
        ...(kind === 'postgres' ? { database: t.database } : { sharedDatabase: shareHandle(t) }),
      });
      try {
        const to = uniqueEmail('many');
        const ids = [];
        for (let i = 0; i < 20; i++) ids.push(await queueRaw(t, to, `message ${i}`));
        worker(t).notify();
        worker(second).notify();
        await waitFor('all sent', async () => (await emailJobs(t, to)).every((row) => row.status === 'succeeded'), 10_000);
        const received = smtp.messagesTo(to);
        assert.equal(received.length, 20);
        assert.equal(new Set(received.map((m) => m.messageId)).size, 20);
        for (const id of ids) assert.ok(received.some((m) => m.messageId.includes(id)));
        assert.ok((await emailJobs(t, to)).every((row) => row.attempts === 1));
      } finally {
        await second.close();
      }
    });
  });

  describe(`email delivery through an outage (${kind})`, () => {
    it('keeps mail while SMTP is down and delivers it once SMTP is back', async () => {
      const port = await freePort();
      const t = await startTestApp(kind, { env: deliveryEnv({ url: `smtp://127.0.0.1:${port}` }) });
      let smtp: TestSmtpServer | undefined;
      try {
        const { email } = await registerUser(t.api);
        const [row] = await waitFor('two failed attempts', async () => {
          const rows = await emailJobs(t, email);
          return rows[0] && rows[0].attempts >= 2 && rows;
        });
        assert.equal(row!.status, 'pending');
        assert.match(row!.last_error ?? '', /ECONNREFUSED/);
        assert.ok(row!.text, 'the message is kept until it is sent');

        smtp = await startSmtpServer({ port });
        const message = await smtp.waitForMessage(email, 8000);
        assert.equal(message.subject, 'Verify your email address');
        await waitFor('sent', async () => (await emailJobs(t, email))[0]?.status === 'succeeded');
        assert.ok(!t.logs.some((line) => line.includes('token=')), 'no token in the logs');
      } finally {
        await t.close();
        await smtp?.close();
      }
    });

    it('answers requests at once while the SMTP server hangs', async () => {
      // Accepts connections and never says a word: every send waits for a timeout.
      const sockets = new Set<Socket>();
      const silent = createServer((socket) => {
        sockets.add(socket);
        socket.on('error', () => {});
      });
      silent.listen(0, '127.0.0.1');
      await once(silent, 'listening');
      const address = silent.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      const t = await startTestApp(kind, { env: deliveryEnv({ url: `smtp://127.0.0.1:${port}` }) });
      try {
        await registerUser(t.api);
        await waitFor('a connection to the silent server', async () => sockets.size > 0);
        const started = Date.now();
        await registerUser(t.api);
        const forgot = await t.api.post('/auth/password/forgot', { email: uniqueEmail() });
        assert.equal(forgot.status, 200);
        // A send to this server waits out the mailer's 10 s greeting timeout; requests must not.
        assert.ok(Date.now() - started < 5000, 'requests do not wait on SMTP');
      } finally {
        // Answer at last (421: closing), so the mailer ends the attempt and clears its greeting
        // timer; a socket only cut would leave that 10 s timer holding the test process open.
        for (const socket of sockets) socket.end('421 closing\r\n');
        await t.close();
        await new Promise((resolve) => silent.close(resolve));
      }
    });
  });

  describe(`email without SMTP_URL (${kind})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(kind, { env: { OUTBOX_POLL_INTERVAL_MS: '100' } });
    });
    after(() => t.close());

    it('writes the message, link included, to the log once and keeps it pending', async () => {
      const { email } = await registerUser(t.api);
      const line = await waitFor('log line', async () => t.logs.find((l) => l.includes(email) && l.includes('/verify-email?token=')));
      const logged = JSON.parse(line);
      assert.equal(logged.email.kind, 'verify_email');
      assert.match(logged.email.text, /http:\/\/frontend\.test\/verify-email\?token=/);

      await new Promise((resolve) => setTimeout(resolve, 350));
      assert.equal(t.logs.filter((l) => l.includes(email) && l.includes('/verify-email?token=')).length, 1, 'logged once');
      const [row] = await emailJobs(t, email);
      assert.equal(row!.status, 'pending');
      assert.equal(row!.attempts, 0);
      assert.equal(row!.last_error, LOGGED_NOT_SENT);
      assert.ok(row!.text?.includes('/verify-email?token='));
    });

    it('delivers what was kept once an instance with SMTP_URL starts', async () => {
      const { email } = await registerUser(t.api);
      await waitFor('logged', async () => (await emailJobs(t, email))[0]?.last_error === LOGGED_NOT_SENT);
      const smtp = await startSmtpServer();
      const withSmtp = await startTestApp(kind, {
        env: deliveryEnv(smtp),
        ...(kind === 'postgres' ? { database: t.database } : { sharedDatabase: shareHandle(t) }),
      });
      try {
        const message = await smtp.waitForMessage(email);
        assert.equal(message.subject, 'Verify your email address');
      } finally {
        await withSmtp.close();
        await smtp.close();
      }
    });
  });
}

/** The first app's database, for a second app on the same embedded database. */
function shareHandle(t: TestApp): DatabaseHandle {
  const db = t.app.ctx.db;
  return { db, kind: 'embedded', ping: async () => void (await sql`select 1`.execute(db)), close: async () => {} };
}
