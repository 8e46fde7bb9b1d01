// SIGTERM: readiness turns 503, in-flight requests finish, the job in flight (an email being
// sent) finishes and is recorded, the process exits within the grace period.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { freePort } from './helpers/ports.js';
import { SMTPServer } from 'smtp-server';
import { openDatabase } from '../src/db/database.js';
import { PASSWORD, uniqueEmail } from './helpers/fixtures.js';
import { createTestDatabase } from './helpers/database.js';
import { programArgs } from './helpers/entry.js';
import { queuedEmails } from './helpers/jobs.js';
import { startTestApp } from './helpers/app.js';
import { loadConfig } from '../src/config.js';

/** Polls /readyz for up to a minute. */
async function becameReady(base: string): Promise<boolean> {
  for (let i = 0; i < 600; i++) {
    if (await fetch(`${base}/readyz`).then((r) => r.ok, () => false)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

// The two servers share nothing (own data directory, port and SMTP server), so they run side
// by side: most of each test is waiting on a child process.
describe('graceful shutdown', { concurrency: true }, () => {
  it('finishes in-flight requests and exits 0 on SIGTERM', { timeout: 120_000 }, async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'keyhold-shutdown-'));
    const port = await freePort();
    // --liftoff-only: see helpers/cli.ts.
    const child = spawn(process.execPath, ['--liftoff-only', ...programArgs('server')], {
      env: { ...process.env, PORT: String(port), DATA_DIR: dataDir, RATE_LIMIT_ENABLED: 'false', LOG_LEVEL: 'info', SHUTDOWN_GRACE_SECONDS: '10' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let output = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.stdout.on('data', (chunk) => (output += chunk));
    const received = () => output.split('\n').filter((line) => line.includes('"incoming request"') && line.includes('/auth/register')).length;
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const base = `http://127.0.0.1:${port}`;
      assert.ok(await becameReady(base), `server did not start: ${stderr}`);

      const register = () =>
        fetch(`${base}/api/v1/auth/register`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email: uniqueEmail('shutdown'), password: PASSWORD, name: 'S' }),
        }).then((r) => r.status);
      const inFlight = Array.from({ length: 4 }, register);
      // SIGTERM once the server has received all four (they each take tens of ms of argon2).
      for (let i = 0; i < 2500 && received() < 4; i++) await new Promise((r) => setTimeout(r, 2));
      assert.equal(received(), 4);
      const signalled = Date.now();
      child.kill('SIGTERM');
      const statuses = await Promise.all(inFlight);
      assert.deepEqual(statuses, [201, 201, 201, 201], 'requests received before SIGTERM complete');
      const code = await exited;
      assert.equal(code, 0, stderr + output.slice(-2000));
      assert.ok(Date.now() - signalled < 10_000, 'exits within the grace period');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('drains on SIGTERM with SHUTDOWN_DRAIN_SECONDS: not ready at once, still serving, then exits 0', { timeout: 120_000 }, async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'keyhold-drain-'));
    const port = await freePort();
    const child = spawn(process.execPath, ['--liftoff-only', ...programArgs('server')], {
      env: { ...process.env, PORT: String(port), DATA_DIR: dataDir, RATE_LIMIT_ENABLED: 'false', LOG_LEVEL: 'warn', SHUTDOWN_GRACE_SECONDS: '10', SHUTDOWN_DRAIN_SECONDS: '2' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const base = `http://127.0.0.1:${port}`;
      assert.ok(await becameReady(base), `server did not start: ${stderr}`);
      const signalled = Date.now();
      child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 300));
      assert.equal((await fetch(`${base}/readyz`)).status, 503, 'out of rotation at once');
      const registered = await fetch(`${base}/api/v1/auth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: uniqueEmail('drain'), password: PASSWORD, name: 'D' }),
      });
      assert.equal(registered.status, 201, 'a request the balancer still sends during the drain is served');
      assert.equal(await exited, 0, stderr);
      assert.ok(Date.now() - signalled >= 2000, 'it waited for the drain');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('serves a request whose headers arrive after close began, instead of a 503', { timeout: 120_000 }, async () => {
    const t = await startTestApp('pglite');
    const socket = net.connect(Number(new URL(t.baseUrl).port), '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk));
    const ended = new Promise((resolve) => socket.once('close', resolve));
    // Begun (so the connection is not idle, and close() waits for it), not yet routed.
    socket.write('GET /api/v1/auth/email/verification-status HTTP/1.1\r\n');
    await new Promise((r) => setTimeout(r, 100));
    const closed = t.close();
    await new Promise((r) => setTimeout(r, 200));
    socket.write('Host: 127.0.0.1\r\n\r\n');
    await ended;
    await closed;
    assert.match(answer.split('\r\n')[0]!, /^HTTP\/1\.1 200/, answer);
    assert.match(answer, /connection: close/i, 'and closes the connection');
  });

  it('refuses a drain that the grace period does not cover', () => {
    assert.throws(() => loadConfig({ SHUTDOWN_DRAIN_SECONDS: '10', SHUTDOWN_GRACE_SECONDS: '10' }), /SHUTDOWN_DRAIN_SECONDS must be less than SHUTDOWN_GRACE_SECONDS/);
    assert.equal(loadConfig({ SHUTDOWN_DRAIN_SECONDS: '5' }).shutdownDrainSeconds, 5);
    assert.equal(loadConfig({}).shutdownDrainSeconds, 0);
  });

  it('finishes the email it is sending, records it, then exits 0', { timeout: 120_000 }, async () => {
    // An SMTP server that takes its time over each message, and says when one has begun.
    const HOLD_MS = 1500;
    let dataStarted!: () => void;
    const sending = new Promise<void>((resolve) => (dataStarted = resolve));
    const accepted: string[] = [];
    const smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      disableReverseLookup: true,
      onData(stream, session, callback) {
        dataStarted();
        stream.resume();
        stream.on('end', () => {
          setTimeout(() => {
            accepted.push(...session.envelope.rcptTo.map((r) => r.address));
            callback();
          }, HOLD_MS);
        });
      },
    });
    await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
    const smtpPort = (smtp.server.address() as net.AddressInfo).port;

    // A ready-made cluster (the first test pays for a real initdb in an empty directory).
    const database = await createTestDatabase('pglite', { persistent: true });
    const dataDir = database.env.DATA_DIR!;
    const port = await freePort();
    const child = spawn(process.execPath, ['--liftoff-only', ...programArgs('server')], {
      env: {
        ...process.env, PORT: String(port), DATA_DIR: dataDir, RATE_LIMIT_ENABLED: 'false', LOG_LEVEL: 'info',
        SHUTDOWN_GRACE_SECONDS: '10', SMTP_URL: `smtp://127.0.0.1:${smtpPort}`, OUTBOX_POLL_INTERVAL_MS: '100',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let output = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.stdout.on('data', (chunk) => (output += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const base = `http://127.0.0.1:${port}`;
      assert.ok(await becameReady(base), `server did not start: ${stderr}`);
      const email = uniqueEmail('shutdown-mail');
      const registered = await fetch(`${base}/api/v1/auth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email, password: PASSWORD, name: 'S' }),
      });
      assert.equal(registered.status, 201);
      await sending;
      const signalled = Date.now();
      child.kill('SIGTERM');
      const code = await exited;
      assert.equal(code, 0, stderr + output.slice(-2000));
      assert.ok(Date.now() - signalled >= HOLD_MS - 200, 'it waited for the send in flight');
      assert.ok(Date.now() - signalled < 10_000, 'exits within the grace period');
      assert.deepEqual(accepted, [email], 'the message was delivered');

      const database = await openDatabase({ dataDir });
      try {
        const [job] = await queuedEmails(database.db, { to: email });
        assert.deepEqual([job?.status, job?.attempts, job?.text], ['succeeded', 1, null], 'and recorded as sent, so it is not sent again');
      } finally {
        await database.close();
      }
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await new Promise<void>((resolve) => smtp.close(() => resolve()));
      await database.drop();
    }
  });
});
