// One delivery attempt: a signed POST (Standard Webhooks, https://www.standardwebhooks.com/)
// with a deadline, to an address the URL guard accepts. Redirects are never followed: a 3xx is
// a failed attempt like any other non-2xx answer.
import { createHmac, randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { bareHost, blockedReason, BlockedAddressError, safeLookup, type Resolver } from './url-guard.js';

export const SECRET_PREFIX = 'whsec_';

/** A new endpoint secret: `whsec_` and 32 random bytes in base64, the spec's form. */
export const newWebhookSecret = (): string => `${SECRET_PREFIX}${randomBytes(32).toString('base64')}`;

/** What a webhook signature covers. */
export interface SignedMessage {
  id: string;
  timestampSeconds: number;
  body: string;
}

/** `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` under the secret's decoded bytes. */
export function signature(secret: string, { id, timestampSeconds, body }: SignedMessage): string {
  const key = Buffer.from(secret.slice(SECRET_PREFIX.length), 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestampSeconds}.${body}`).digest('base64')}`;
}

export interface SendOptions {
  /** The whole attempt (connect, headers) must finish within this. */
  timeoutMs: number;
  /** WEBHOOK_ALLOW_INSECURE_URLS: http:// and any address. */
  allowInsecure: boolean;
  resolver: Resolver;
}

export interface Attempt {
  /** A 2xx answer within the deadline. */
  ok: boolean;
  /** The answer's status, null when none came. */
  status: number | null;
  durationMs: number;
  /** Why it failed, for the delivery log (never a secret). */
  error: string | null;
}

export interface WebhookSender {
  send(url: string, message: { id: string; body: string; secrets: string[]; now: Date }): Promise<Attempt>;
  close(): void;
}

export function createWebhookSender(options: SendOptions): WebhookSender {
  const lookup = safeLookup(options.resolver);
  // Keep-alive: a busy endpoint is not paying a TLS handshake per event. A pooled socket was
  // connected through `lookup`, so it went to a checked address.
  const agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };

  async function send(url: string, message: { id: string; body: string; secrets: string[]; now: Date }): Promise<Attempt> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    const failed = (error: string, status: number | null = null): Attempt => ({ ok: false, status, durationMs: elapsed(), error });
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      return failed('URL is not valid');
    }
    const secure = target.protocol === 'https:';
    if (!secure && !(options.allowInsecure && target.protocol === 'http:')) return failed('refused: URL must use https://');
    const host = bareHost(target.hostname);
    if (!options.allowInsecure && isIP(host)) {
      const reason = blockedReason(host);
      if (reason) return failed(`refused: ${reason}`);
    }
    const timestamp = Math.floor(message.now.getTime() / 1000);
    const headers = {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(message.body)),
      'user-agent': 'Keyhold-Webhooks/1',
      'webhook-id': message.id,
      'webhook-timestamp': String(timestamp),
      // Several signatures, space-separated, while a rotated secret is still honoured.
      'webhook-signature': message.secrets.map((secret) => signature(secret, { id: message.id, timestampSeconds: timestamp, body: message.body })).join(' '),
    };
    return new Promise<Attempt>((resolve) => {
      let settled = false;
      /** `answered`: the deadline stays set until the answer's body has been read away, so a
       *  receiver that never finishes its body does not keep the socket forever. */
      const settle = (attempt: Attempt, answered = false) => {
        if (settled) return;
        settled = true;
        if (!answered) clearTimeout(deadline);
        resolve(attempt);
      };
      const request = (secure ? https : http).request(target, {
        method: 'POST',
        headers,
        agent: secure ? agents.https : agents.http,
        ...(options.allowInsecure ? {} : { lookup }),
      });
      const deadline = setTimeout(() => {
        settle(failed(`no answer within ${options.timeoutMs} ms`));
        request.destroy();
      }, options.timeoutMs);
      request.on('response', (response) => {
        const status = response.statusCode ?? 0;
        // The body is not needed; read it away so the socket can be reused, within the deadline.
        response.on('end', () => clearTimeout(deadline));
        response.on('error', () => {});
        response.resume();
        if (status >= 200 && status < 300) settle({ ok: true, status, durationMs: elapsed(), error: null }, true);
        else if (status >= 300 && status < 400) settle(failed(`redirect (${status}) not followed`, status), true);
        else settle(failed(`HTTP ${status}`, status), true);
      });
      request.on('error', (err: NodeJS.ErrnoException) => {
        const reason = err instanceof BlockedAddressError ? err.message : `${err.message}${err.code && !err.message.includes(err.code) ? ` (${err.code})` : ''}`;
        settle(failed(reason));
      });
      request.end(message.body);
    });
  }

  return {
    send,
    close() {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}
