// A real SMTP server on loopback that keeps every message it receives, parsed.
import { once } from 'node:events';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMessage {
  /** Envelope recipients, lower-cased. */
  to: string[];
  from: string;
  subject: string;
  text: string;
  html: string;
  messageId: string;
  headers: Map<string, unknown>;
}

export interface TestSmtpServer {
  port: number;
  /** For SMTP_URL. */
  url: string;
  messages: ReceivedMessage[];
  /** The next message to `to` (matching `match`) not returned before; waits up to timeoutMs. */
  waitForMessage(to: string, timeoutMs?: number, match?: (message: ReceivedMessage) => boolean): Promise<ReceivedMessage>;
  messagesTo(to: string): ReceivedMessage[];
  /** Answer the next `count` recipients with a temporary failure (451). */
  failNext(count: number): void;
  /** Hold each message this long before accepting it (a slow server). */
  setDelay(ms: number): void;
  close(): Promise<void>;
}

export async function startSmtpServer(options: { port?: number } = {}): Promise<TestSmtpServer> {
  const messages: ReceivedMessage[] = [];
  let dataDelayMs = 0;
  const taken = new Set<ReceivedMessage>();
  const waiters = new Set<() => void>();
  let failures = 0;

  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    // Every connection would otherwise wait on a reverse DNS lookup of 127.0.0.1.
    disableReverseLookup: true,
    onRcptTo(address, _session, callback) {
      if (failures > 0) {
        failures--;
        return callback(Object.assign(new Error('Try again later'), { responseCode: 451 }));
      }
      callback();
    },
    onData(stream, session, callback) {
      simpleParser(stream).then(
        async (mail) => {
          if (dataDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, dataDelayMs));
          messages.push({
            to: session.envelope.rcptTo.map((r) => r.address.toLowerCase()),
            from: typeof session.envelope.mailFrom === 'object' && session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            subject: mail.subject ?? '',
            text: mail.text ?? '',
            html: typeof mail.html === 'string' ? mail.html : '',
            messageId: mail.messageId ?? '',
            headers: mail.headers as Map<string, unknown>,
          });
          for (const wake of waiters) wake();
          callback();
        },
        (err: Error) => callback(err),
      );
    },
  });
  server.listen(options.port ?? 0, '127.0.0.1');
  await once(server.server, 'listening');
  const address = server.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  const findUntaken = (to: string, match?: (m: ReceivedMessage) => boolean) =>
    messages.find((m) => !taken.has(m) && m.to.includes(to.toLowerCase()) && (!match || match(m)));

  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    messages,
    async waitForMessage(to, timeoutMs = 5000, match) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = findUntaken(to, match);
        if (found) {
          taken.add(found);
          return found;
        }
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no email to ${to} within ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          const wake = () => {
            clearTimeout(timer);
            waiters.delete(wake);
            resolve();
          };
          const timer = setTimeout(wake, left);
          waiters.add(wake);
        });
      }
    },
    messagesTo(to) {
      return messages.filter((m) => m.to.includes(to.toLowerCase()));
    },
    failNext(count) {
      failures = count;
    },
    setDelay(ms) {
      dataDelayMs = ms;
    },
    close() {
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A loopback port with nothing listening on it (for "SMTP is down"). */
/** Environment that points the app at `server`, with a worker that polls often. */
/** Which email a message is, by the subject Keyhold gives it (for waitForMessage). */
export const isVerificationEmail = (m: { subject: string }): boolean => m.subject === 'Verify your email address';
export const isResetEmail = (m: { subject: string }): boolean => m.subject === 'Reset your password';

export const smtpEnv = (server: { url: string }): Record<string, string> => ({ SMTP_URL: server.url, OUTBOX_POLL_INTERVAL_MS: '100' });

/** The token in the message's link to FRONTEND_URL/<path>. */
export function tokenFromLink(message: ReceivedMessage, path: string): string {
  const link = message.text.match(/https?:\/\/\S+/g)?.find((url) => new URL(url).pathname === path);
  if (!link) throw new Error(`no ${path} link in: ${message.text}`);
  const token = new URL(link).searchParams.get('token');
  if (!token) throw new Error(`no token in ${link}`);
  return token;
}
