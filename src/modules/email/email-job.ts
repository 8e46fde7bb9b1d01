// Email is a job of kind 'email' (modules/jobs/). A message is queued with the executor of the
// change that causes it, so the two commit together; the queue's worker sends it after the
// commit, with retries, and a crash or an SMTP outage delays mail but never loses it.
import type { AppContext } from '../../context.js';
import type { Executor } from '../../db/database.js';
import type { JobQueue } from '../jobs/job-queue.js';
import { retryDelayMs } from '../jobs/job-queue.js';
import { enqueue, enqueueWrite } from '../jobs/jobs.repo.js';
import type { Write } from '../../db/together.js';
import { PermanentJobError, type AttemptResult } from '../jobs/jobs.types.js';
import type { DeliveryResult } from '../metrics/metrics.js';
import { createSmtpMailer, type Mailer } from './mailer.js';
import type { EmailKind, EmailMessage } from './templates.js';

/** The payload of an 'email' job. */
export interface EmailJobPayload {
  /** Which message of templates.ts. */
  template: EmailKind;
  to: string;
  subject: string;
  /** The bodies: erased (null) once the message is sent or given up, so links carrying tokens
   *  do not linger in the database. */
  text: string | null;
  html: string | null;
}

declare module '../jobs/jobs.types.js' {
  interface JobPayloads {
    email: EmailJobPayload;
  }
}

/** Queues `message`; returns the job id, which becomes its Message-ID. */
export function enqueueEmail(db: Executor, message: EmailMessage): Promise<string> {
  return enqueue(db, 'email', { template: message.kind, to: message.to, subject: message.subject, text: message.text, html: message.html });
}

/** enqueueEmail as a Write (db/together.ts). */
export function emailWrite(db: Executor, message: EmailMessage): Write {
  return enqueueWrite(db, 'email', { template: message.kind, to: message.to, subject: message.subject, text: message.text, html: message.html });
}

/** After this many failed attempts a message is given up ('failed'). With the default poll
 *  interval the attempts span about 19 hours, so an SMTP outage of a night only delays mail. */
export const MAX_DELIVERY_ATTEMPTS = 30;

/** The last_error of a message an instance without SMTP_URL wrote to the log: it is still
 *  pending (an instance with SMTP_URL delivers it), and is not logged again. */
export const LOGGED_NOT_SENT = 'SMTP_URL is not set: written to the log';

/** Far longer than one send can take with the mailer's timeouts: a message is only sent twice
 *  if the instance sending it died. */
const LEASE_SECONDS = 5 * 60;

const METRIC: Record<AttemptResult, DeliveryResult> = { succeeded: 'sent', retry: 'retry', failed: 'failed' };

export interface EmailJobDeps extends Pick<AppContext, 'config' | 'log' | 'metrics'> {
  /** Default: SMTP to config.smtpUrl; none (log only) when it is unset. */
  mailer?: Mailer | null;
}

/**
 * Registers email with the queue. With a mailer: the handler that sends. Without (SMTP_URL
 * unset, a development convenience): email is parked on this instance, each message written
 * to the log once, link included on purpose, and left pending for an instance with SMTP_URL.
 */
export function registerEmailJobs(queue: JobQueue, deps: EmailJobDeps): void {
  const { config, log, metrics } = deps;
  const mailer = deps.mailer !== undefined ? deps.mailer : config.smtpUrl ? createSmtpMailer(config.smtpUrl, config.emailFrom) : null;
  if (!mailer) {
    queue.park({
      kind: 'email',
      reason: LOGGED_NOT_SENT,
      onParked(job) {
        const { template, to, subject, text } = job.payload;
        log.info({ email: { id: job.id, kind: template, to, subject, text } }, 'email not sent (SMTP_URL is not set); kept in the queue');
      },
    });
    return;
  }
  queue.register({
    kind: 'email',
    maxAttempts: MAX_DELIVERY_ATTEMPTS,
    retryDelayMs: (attempt) => retryDelayMs(attempt, config.outboxPollIntervalMs),
    leaseSeconds: LEASE_SECONDS,
    // A failed send usually means the SMTP server is down: the other messages wait for the next poll.
    pauseAfterFailure: true,
    async run(job) {
      const { to, subject, text, html } = job.payload;
      if (text === null) throw new PermanentJobError('message has no body');
      // The job id is the Message-ID: a resend after a crash is recognisably the same mail.
      await mailer.send({ id: job.id, to, subject, text, html });
    },
    finalPayload: (payload) => ({ ...payload, text: null, html: null }),
    describe: (payload) => ({ template: payload.template }),
    onResult: (result) => metrics.emails.inc(METRIC[result]),
    close: () => mailer.close(),
  });
}
