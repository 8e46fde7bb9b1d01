// Outbound requests to addresses someone else chose go through the webhooks' URL guard: the
// OpenID Provider's (back-channel logout tokens, a client's jwks_uri) and an SSO connection's
// IdP metadata URL: https:// only, and the socket connects only to a public address that
// was checked at connection time (safeLookup). WEBHOOK_ALLOW_INSECURE_URLS lifts both, as for
// webhooks. Redirects are never followed. Returns a fetch Response, as oidc-provider's `fetch`
// option expects.
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { bareHost, blockedReason, safeLookup, type Resolver } from './url-guard.js';

const TIMEOUT_MS = 10_000;
const MAX_BODY_BYTES = 512 * 1024;

export function guardedFetch(options: { allowInsecure: boolean; resolver?: Resolver }): (url: string | URL, init?: RequestInit) => Promise<Response> {
  const lookup = safeLookup(options.resolver);
  return async (input, init = {}) => {
    const target = new URL(String(input));
    const secure = target.protocol === 'https:';
    if (!secure && !(options.allowInsecure && target.protocol === 'http:')) throw new Error('refused: URL must use https://');
    const host = bareHost(target.hostname);
    if (!options.allowInsecure && isIP(host)) {
      const reason = blockedReason(host);
      if (reason) throw new Error(`refused: ${reason}`);
    }
    const body = init.body === undefined || init.body === null ? undefined : String(init.body);
    const headers = Object.fromEntries(new Headers(init.headers as Record<string, string> | undefined).entries());
    if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
    return new Promise<Response>((resolve, reject) => {
      const request = (secure ? https : http).request(target, {
        method: init.method ?? 'GET',
        headers,
        timeout: TIMEOUT_MS,
        ...(options.allowInsecure ? {} : { lookup }),
      });
      request.on('timeout', () => request.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)));
      request.on('error', reject);
      request.on('response', (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_BODY_BYTES) request.destroy(new Error('response too large'));
          else chunks.push(chunk);
        });
        response.on('error', reject);
        response.on('end', () => {
          const status = response.statusCode ?? 0;
          const responseHeaders = new Headers();
          for (const [name, value] of Object.entries(response.headers)) if (typeof value === 'string') responseHeaders.set(name, value);
          // A Response may not carry a body with 204 or 304.
          const payload = status === 204 || status === 304 ? null : Buffer.concat(chunks);
          resolve(new Response(payload, { status: status < 200 || status > 599 ? 502 : status, headers: responseHeaders }));
        });
      });
      request.end(body);
    });
  };
}
