// The SMTP side of email delivery: one nodemailer transport for SMTP_URL, sending as EMAIL_FROM.
// Only the email job (email-job.ts) calls it, from the job queue's worker, so no request ever
// waits on an SMTP server.
import type { Transporter } from 'nodemailer';

export interface OutgoingMessage {
  /** The job id: it becomes the Message-ID, so a resend after a crash is recognisably the same mail. */
  id: string;
  to: string;
  subject: string;
  text: string;
  html: string | null;
}

export interface Mailer {
  send(message: OutgoingMessage): Promise<void>;
  close(): void;
}

// Short timeouts: a dead or hanging server should fail the attempt (and be retried) in
// seconds, well inside the email job's lease, not hold the worker for nodemailer's default hour.
const TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000, dnsTimeout: 10_000 };

export function createSmtpMailer(smtpUrl: string, from: string): Mailer {
  // nodemailer (dozens of modules) is loaded with the first message, not at every start: an
  // instance without SMTP_URL, or one that has nothing to send yet, never pays for it.
  let transport: Promise<Transporter> | undefined;
  const connect = (): Promise<Transporter> =>
    (transport ??= import('nodemailer').then(
      ({ default: nodemailer }) => nodemailer.createTransport({ url: smtpUrl, ...TIMEOUTS }),
      (err: unknown) => {
        transport = undefined; // a failed load is retried with the next attempt, not remembered
        throw err;
      },
    ));
  const messageIdDomain = domainOf(from);
  return {
    async send(message) {
      await (await connect()).sendMail({
        from,
        to: message.to,
        subject: message.subject,
        text: message.text,
        ...(message.html ? { html: message.html } : {}),
        messageId: `<${message.id}@${messageIdDomain}>`,
        // Tells mail servers and auto-responders this is machine-sent (RFC 3834).
        headers: { 'Auto-Submitted': 'auto-generated' },
      });
    },
    close() {
      void transport?.then((opened) => opened.close(), () => {});
    },
  };
}

function domainOf(from: string): string {
  const match = /@([^\s>]+)>?\s*$/.exec(from);
  return match?.[1] ?? 'keyhold.local';
}
