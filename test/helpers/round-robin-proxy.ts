// A small HTTP load balancer on loopback for the scale-out test: round-robin over the
// instances its health checks find ready, as nginx, HAProxy or a cloud load balancer would
// be set up in front of Keyhold. It does what such a balancer does by default, no more:
//
// - Active health checks: GET /readyz on every instance every `healthIntervalMs`; an instance
//   is in rotation while its last check answered 200 (a draining instance answers 503).
// - Passive: a connection refused takes the instance out of rotation until its next good check.
// - Fails open: when no instance is in rotation (every check timed out on a saturated machine),
//   it tries them all, as nginx (all servers failed: try them again) and cloud balancers do.
// - Retries on another instance only when the request cannot have reached the first one
//   (connection refused), or, for GET and HEAD, on any connection error: nginx's default
//   `proxy_next_upstream error timeout` (non-idempotent requests are not retried once sent) and
//   HAProxy's default `retry-on conn-failure`. An HTTP answer, 503 included, is passed on as is.
// - One upstream connection per request (no pooled keep-alive), X-Forwarded-For appended.
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Upstream {
  port: number;
  /** In rotation (last health check 200, no refused connection since). */
  healthy: boolean;
  /** Requests this upstream answered. */
  answered: number;
}

export interface ProxyStats {
  /** Requests retried on another instance after a connection error, by error code. */
  retries: Record<string, number>;
  /** Requests answered 502 by the proxy itself (no instance could take them), by error code. */
  failures: Record<string, number>;
}

export interface RoundRobinProxy {
  url: string;
  upstreams: Upstream[];
  stats: ProxyStats;
  /** Runs one health check of every instance now (the test calls it after starting them). */
  checkNow(): Promise<void>;
  close(): Promise<void>;
}

export interface ProxyOptions {
  ports: number[];
  healthPath?: string;
  healthIntervalMs?: number;
}

const RETRY_ANY_ERROR = new Set(['GET', 'HEAD', 'OPTIONS']);

export async function startRoundRobinProxy(options: ProxyOptions): Promise<RoundRobinProxy> {
  const healthPath = options.healthPath ?? '/readyz';
  const upstreams: Upstream[] = options.ports.map((port) => ({ port, healthy: false, answered: 0 }));
  const stats: ProxyStats = { retries: {}, failures: {} };
  let next = 0;
  let closed = false;

  const probe = (upstream: Upstream): Promise<void> =>
    new Promise((resolve) => {
      const req = httpRequest({ host: '127.0.0.1', port: upstream.port, path: healthPath, agent: false, timeout: 2000 }, (res) => {
        res.resume();
        upstream.healthy = res.statusCode === 200;
        resolve();
      });
      req.on('timeout', () => req.destroy(new Error('health check timed out')));
      req.on('error', () => {
        upstream.healthy = false;
        resolve();
      });
      req.end();
    });
  const checkNow = async (): Promise<void> => void (await Promise.all(upstreams.map(probe)));
  let checking: Promise<void> = Promise.resolve();
  const healthTimer = setInterval(() => {
    checking = checkNow();
  }, options.healthIntervalMs ?? 500);

  /** The next instance in rotation after the last one used, skipping `tried`. */
  const pick = (tried: Set<Upstream>): Upstream | undefined => {
    const failOpen = !upstreams.some((u) => u.healthy);
    for (let i = 0; i < upstreams.length; i++) {
      const upstream = upstreams[(next + i) % upstreams.length]!;
      if ((upstream.healthy || failOpen) && !tried.has(upstream)) {
        next = (next + i + 1) % upstreams.length;
        return upstream;
      }
    }
    return undefined;
  };

  const forward = (upstream: Upstream, client: IncomingMessage, body: Buffer): Promise<IncomingMessage> =>
    new Promise((resolve, reject) => {
      const forwardedFor = [client.headers['x-forwarded-for'], client.socket.remoteAddress].filter(Boolean).join(', ');
      const headers = { ...client.headers, 'x-forwarded-for': forwardedFor, connection: 'close', 'content-length': String(body.length) };
      if (body.length === 0 && client.method === 'GET') delete (headers as Record<string, unknown>)['content-length'];
      const req = httpRequest({ host: '127.0.0.1', port: upstream.port, method: client.method, path: client.url, headers, agent: false }, resolve);
      req.on('error', reject);
      req.end(body);
    });

  const handle = async (client: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const chunk of client) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const tried = new Set<Upstream>();
    let lastError = 'no_upstream';
    for (;;) {
      const upstream = pick(tried);
      if (!upstream) break;
      tried.add(upstream);
      try {
        const answer = await forward(upstream, client, body);
        upstream.answered++;
        const headers = { ...answer.headers };
        delete headers.connection;
        delete headers['keep-alive'];
        res.writeHead(answer.statusCode ?? 502, headers);
        answer.pipe(res);
        return;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? 'error';
        lastError = code;
        if (code === 'ECONNREFUSED') upstream.healthy = false;
        const mayRetry = code === 'ECONNREFUSED' || RETRY_ANY_ERROR.has(client.method ?? '');
        if (!mayRetry) break;
        stats.retries[code] = (stats.retries[code] ?? 0) + 1;
      }
    }
    stats.failures[lastError] = (stats.failures[lastError] ?? 0) + 1;
    res.writeHead(502, { 'content-type': 'application/json' }).end(JSON.stringify({ detail: `proxy: ${lastError}` }));
  };

  const server: Server = createServer((client, res) => {
    handle(client, res).catch(() => res.destroy());
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    upstreams,
    stats,
    checkNow,
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(healthTimer);
      await checking;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
