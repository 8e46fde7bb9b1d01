// Delivers queued email from the outbox: polls every OUTBOX_POLL_INTERVAL_MS and whenever a
// service calls notify() after a commit that queued mail. Requests never wait on SMTP; an
// SMTP outage or a restart delays mail (it stays pending and is retried) but never drops it.
import type { AppContext } from '../../context.js';
import { createSmtpMailer, type Mailer } from './mailer.js';
import {
  claimDueEmail,
  claimUnloggedEmails,
  markEmailFailed,
  markEmailSent,
  scheduleEmailRetry,
  type ClaimedEmail,
} from './outbox.repo.js';

export interface OutboxWorker {
  start(): void;
  /** Wake the worker now (after a commit that queued mail). */
  notify(): void;
  /** Finish the message in flight, then stop. */
  stop(): Promise<void>;
}

export interface OutboxWorkerDeps extends Pick<AppContext, 'db' | 'config' | 'clock' | 'log'> {
  /** Default: SMTP to config.smtpUrl; none (log only) when it is unset. */
  mailer?: Mailer | null;
}

/** After this many failed attempts a message is marked 'failed'. With the default poll
 *  interval the attempts span about 19 hours, so an SMTP outage of a night only delays mail. */
export const MAX_DELIVERY_ATTEMPTS = 30;
export const MAX_RETRY_DELAY_MS = 60 * 60 * 1000;
/** How long a claimed message is hidden from other instances: far longer than one send
 *  can take with the mailer's timeouts, so a message is only re-sent if its worker died. */
const LEASE_SECONDS = 5 * 60;
const LOG_BATCH = 50;
const MAX_ERROR_LENGTH = 500;

/**
 * Exponential back-off: the first retry one poll interval after the failure, doubling up to
 * an hour, with ±20% jitter so instances and messages do not retry in lock-step after an outage.
 */
export function retryDelayMs(attempts: number, baseMs: number, random: () => number = Math.random): number {
  const delay = Math.min(baseMs * 2 ** Math.max(0, attempts - 1), MAX_RETRY_DELAY_MS);
  return Math.round(delay * (0.8 + 0.4 * random()));
}

export function createOutboxWorker(deps: OutboxWorkerDeps): OutboxWorker {
  const { db, config, log } = deps;
  const mailer = deps.mailer !== undefined ? deps.mailer : config.smtpUrl ? createSmtpMailer(config.smtpUrl, config.emailFrom) : null;
  let running = false;
  let timer: NodeJS.Timeout | undefined;
  let pass: Promise<void> | undefined;
  let wokenDuringPass = false;
  let databaseFailing = false;

  function wake(): void {
    if (!running) return;
    // A pass is running: it may already have looked past the message just committed, so run
    // one more pass when it ends. Any number of notifies in between coalesce into that one.
    if (pass) {
      wokenDuringPass = true;
      return;
    }
    clearTimeout(timer);
    pass = runPass().finally(() => {
      pass = undefined;
      if (!running) return;
      if (wokenDuringPass) {
        wokenDuringPass = false;
        wake();
      } else {
        timer = setTimeout(wake, config.outboxPollIntervalMs);
        timer.unref();
      }
    });
  }

  async function runPass(): Promise<void> {
    try {
      if (mailer) await sendDue(mailer);
      else await logUnsent();
      databaseFailing = false;
    } catch (err) {
      // The database is unreachable (or a query failed): nothing was lost, the rows are
      // still pending. Say so once per outage and try again at the next poll.
      if (!databaseFailing) log.warn({ err: { message: (err as Error).message } }, 'email outbox unavailable; will retry');
      databaseFailing = true;
    }
  }

  async function sendDue(mailer: Mailer): Promise<void> {
    while (running) {
      const email = await claimDueEmail(db, LEASE_SECONDS);
      if (!email) return;
      // After a failure the server is probably down: leave the other due messages for the
      // next poll instead of spending an attempt of each of them on it now.
      if (!(await deliver(mailer, email))) return;
    }
  }

  async function deliver(mailer: Mailer, email: ClaimedEmail): Promise<boolean> {
    const about = { id: email.id, kind: email.kind, attempt: email.attempts };
    if (email.text_body === null) {
      await markEmailFailed(db, email.id, 'message has no body');
      return true;
    }
    try {
      await mailer.send({ id: email.id, to: email.to_address, subject: email.subject, text: email.text_body, html: email.html_body });
    } catch (err) {
      // Only the error is logged, never the message: its body carries a token.
      const reason = describeError(err);
      if (email.attempts >= MAX_DELIVERY_ATTEMPTS) {
        await markEmailFailed(db, email.id, reason);
        log.error({ email: about, reason }, 'email delivery failed; giving up');
      } else {
        const delayMs = retryDelayMs(email.attempts, config.outboxPollIntervalMs);
        await scheduleEmailRetry(db, email.id, delayMs, reason);
        log.warn({ email: { ...about, retryInMs: delayMs }, reason }, 'email delivery failed; will retry');
      }
      return false;
    }
    await markEmailSent(db, email.id);
    log.info({ email: about }, 'email sent');
    return true;
  }

  // Without SMTP_URL: a developer convenience. The link is in the log line on purpose.
  async function logUnsent(): Promise<void> {
    for (;;) {
      const batch = await claimUnloggedEmails(db, LOG_BATCH);
      for (const email of batch) {
        log.info(
          { email: { id: email.id, kind: email.kind, to: email.to_address, subject: email.subject, text: email.text_body } },
          'email not sent (SMTP_URL is not set); kept in the outbox',
        );
      }
      if (batch.length < LOG_BATCH) return;
    }
  }

  return {
    start() {
      if (running) return;
      running = true;
      wake();
    },
    notify() {
      wake();
    },
    async stop() {
      running = false;
      clearTimeout(timer);
      await pass;
      mailer?.close();
    },
  };
}

function describeError(err: unknown): string {
  const e = err as { message?: unknown; code?: unknown; responseCode?: unknown };
  const parts = [typeof e?.message === 'string' ? e.message : String(err)];
  if (typeof e?.code === 'string' && !parts[0]!.includes(e.code)) parts.push(`(${e.code})`);
  return parts.join(' ').replace(/\s+/g, ' ').slice(0, MAX_ERROR_LENGTH);
}
