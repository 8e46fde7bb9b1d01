// Transactional outbox. A message is enqueued with the executor of the change that causes
// it, so the two commit together; the delivery worker sends it later, with retries.
//
// Delivery times (next_attempt_at, sent_at) are the database's clock, not the app's: rows are
// created with its now(), and several instances sharing one queue must agree on what is due.
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import type { EmailMessage } from './templates.js';

type Executor = Kysely<Database>;

export async function enqueueEmail(db: Executor, message: EmailMessage): Promise<void> {
  await db
    .insertInto('email_outbox')
    .values({
      kind: message.kind,
      to_address: message.to,
      subject: message.subject,
      text_body: message.text,
      html_body: message.html,
    })
    .execute();
}

export interface ClaimedEmail {
  id: string;
  kind: string;
  to_address: string;
  subject: string;
  text_body: string | null;
  html_body: string | null;
  /** Including the attempt this claim starts. */
  attempts: number;
}

/**
 * Claims the oldest due message for one delivery attempt. SKIP LOCKED lets instances claim
 * side by side without waiting on each other; the lease (next_attempt_at pushed forward)
 * keeps the row away from every other instance while it is being sent, without holding a
 * transaction (or the embedded database's only connection) open during SMTP. A worker that
 * dies mid-send leaves the row to be retried when the lease runs out.
 */
export async function claimDueEmail(db: Executor, leaseSeconds: number): Promise<ClaimedEmail | undefined> {
  const result = await sql<ClaimedEmail>`
    UPDATE email_outbox
       SET attempts = attempts + 1,
           next_attempt_at = now() + make_interval(secs => ${leaseSeconds})
     WHERE id = (
       SELECT id FROM email_outbox
        WHERE status = 'pending' AND next_attempt_at <= now()
        ORDER BY next_attempt_at, created_at
        LIMIT 1
        FOR UPDATE SKIP LOCKED)
    RETURNING id, kind, to_address, subject, text_body, html_body, attempts
  `.execute(db);
  return result.rows[0];
}

/** Why a message logged in place of sending is still pending; also marks it as logged. */
export const LOGGED_NOT_SENT = 'SMTP_URL is not set: written to the log';

/**
 * Without SMTP the worker writes each message to the log once. The row stays pending with
 * its bodies (an instance started later with SMTP_URL still delivers it); last_error says
 * why it was not sent and keeps it from being logged again.
 */
export async function claimUnloggedEmails(db: Executor, limit: number): Promise<ClaimedEmail[]> {
  const result = await sql<ClaimedEmail>`
    UPDATE email_outbox
       SET last_error = ${LOGGED_NOT_SENT}
     WHERE id IN (
       SELECT id FROM email_outbox
        WHERE status = 'pending' AND last_error IS NULL
        ORDER BY created_at
        LIMIT ${limit}
        FOR UPDATE SKIP LOCKED)
    RETURNING id, kind, to_address, subject, text_body, html_body, attempts
  `.execute(db);
  return result.rows;
}

/** Sent: the bodies go, so links carrying tokens do not linger in the database. */
export async function markEmailSent(db: Executor, id: string): Promise<void> {
  await sql`
    UPDATE email_outbox
       SET status = 'sent', sent_at = now(), last_error = NULL, text_body = NULL, html_body = NULL
     WHERE id = ${id}
  `.execute(db);
}

export async function scheduleEmailRetry(db: Executor, id: string, delayMs: number, error: string): Promise<void> {
  await sql`
    UPDATE email_outbox
       SET next_attempt_at = now() + make_interval(secs => ${delayMs / 1000}), last_error = ${error}
     WHERE id = ${id} AND status = 'pending'
  `.execute(db);
}

/** Given up. The bodies go too, for the same reason as on success: the row (kind, recipient,
 *  attempts, last_error) is what an operator needs, and the user can ask for a new link. */
export async function markEmailFailed(db: Executor, id: string, error: string): Promise<void> {
  await sql`
    UPDATE email_outbox
       SET status = 'failed', last_error = ${error}, text_body = NULL, html_body = NULL
     WHERE id = ${id} AND status = 'pending'
  `.execute(db);
}
