// Prometheus metrics (METRICS_ENABLED): what the service does, counted by a handful of fixed
// label values. No label ever carries a user id, an email address, an IP or a raw URL, so the
// number of series stays bounded and a scrape reveals nothing about any one user.
//
// Each app has its own prom-client Registry (never the global one), so tests that build
// several apps in one process do not share counters. With metrics disabled, createMetrics
// returns a no-op (prom-client is not even loaded) and call sites never branch.
import type { Histogram, Registry } from 'prom-client';

/** RFC 8176 method references of auth/sign-in.ts's first factors. */
export type SignInMethod = 'pwd' | 'oauth' | 'passkey' | 'sso' | 'mfa';
/** `failure`: unknown email or wrong password; `locked`: refused because the account is locked. */
export type SignInOutcome = 'success' | 'failure' | 'locked' | 'mfa_required';
/** `rotated`: a new pair; `grace`: the just-rotated parent got its child again; `reuse`: a
 *  leaked token ended its session; `refused`: any other 401/403. */
export type RefreshOutcome = 'rotated' | 'grace' | 'reuse' | 'refused';
/** One delivery attempt of an email or a webhook: `retry` will be tried again, `failed` was given up. */
export type DeliveryResult = 'sent' | 'retry' | 'failed';

export interface QueueStat {
  /** Job kind, e.g. `email`. */
  kind: string;
  pending: number;
  /** Age of the oldest pending job; 0 when none is pending. */
  oldestAgeSeconds: number;
}

/** A finished request. `route` is the matched route pattern (e.g. /api/v1/auth/me), or
 *  undefined when no route matched: those all share the label value `unmatched`. */
export interface ObservedRequest {
  method: string;
  route: string | undefined;
  statusCode: number;
  seconds: number;
}

export interface Metrics {
  readonly enabled: boolean;
  signIns: { inc(method: SignInMethod, outcome: SignInOutcome): void };
  refreshes: { inc(outcome: RefreshOutcome): void };
  emails: { inc(result: DeliveryResult): void };
  webhookDeliveries: { inc(result: DeliveryResult): void };
  /** Rows removed by retention, by table (a table name chosen by the code, never by input). */
  purgedRows: { inc(table: string, n: number): void };
  /** A finished request (ObservedRequest). */
  observeRequest(request: ObservedRequest): void;
  /** The Prometheus text exposition: queue gauges read now, everything else as counted. */
  scrape(): Promise<{ contentType: string; body: string }>;
}

export interface MetricsOptions {
  enabled: boolean;
  /** Read at every scrape. A failure leaves the queue series out of that scrape (and is logged). */
  queueStats?: () => Promise<QueueStat[]>;
  onQueueStatsError?: (err: unknown) => void;
}

const noop = (): void => {};

/** What every call site gets when METRICS_ENABLED is false. */
export const NO_METRICS: Metrics = Object.freeze({
  enabled: false,
  signIns: { inc: noop },
  refreshes: { inc: noop },
  emails: { inc: noop },
  webhookDeliveries: { inc: noop },
  purgedRows: { inc: noop },
  observeRequest: noop,
  scrape: async () => ({ contentType: 'text/plain; version=0.0.4; charset=utf-8', body: '' }),
});

/** Route label of requests no route matched (404s, 405s): one value, never the raw URL. */
export const UNMATCHED_ROUTE = 'unmatched';

/** Seconds. Starts at 1 ms: GET /auth/me answers in a few. */
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export async function createMetrics(options: MetricsOptions): Promise<Metrics> {
  if (!options.enabled) return NO_METRICS;
  const client = await import('prom-client');
  const registry: Registry = new client.Registry();
  // CPU, memory, heap, event-loop lag, GC, handles: prom-client's standard process metrics.
  client.collectDefaultMetrics({ register: registry });

  const requestDuration: Histogram<'method' | 'route' | 'status_code'> = new client.Histogram({
    name: 'keyhold_http_request_duration_seconds',
    help: 'Time to answer a request, by route pattern, method and status code.',
    labelNames: ['method', 'route', 'status_code'],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const signIns = new client.Counter({
    name: 'keyhold_sign_ins_total',
    help: 'Sign-in attempts, by method (pwd, oauth) and outcome (success, failure, locked).',
    labelNames: ['method', 'outcome'],
    registers: [registry],
  });
  const refreshes = new client.Counter({
    name: 'keyhold_refreshes_total',
    help: 'Refresh-token presentations, by outcome (rotated, grace, reuse, refused).',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const emails = new client.Counter({
    name: 'keyhold_emails_total',
    help: 'Email delivery attempts, by result (sent, retry, failed).',
    labelNames: ['result'],
    registers: [registry],
  });
  const webhookDeliveries = new client.Counter({
    name: 'keyhold_webhook_deliveries_total',
    help: 'Webhook delivery attempts, by result (sent, retry, failed).',
    labelNames: ['result'],
    registers: [registry],
  });
  const purgedRows = new client.Counter({
    name: 'keyhold_purged_rows_total',
    help: 'Rows removed by retention, by table.',
    labelNames: ['table'],
    registers: [registry],
  });
  const queueDepth = new client.Gauge({
    name: 'keyhold_job_queue_depth',
    help: 'Pending jobs, by kind (read at scrape time).',
    labelNames: ['kind'],
    registers: [registry],
  });
  const oldestJobAge = new client.Gauge({
    name: 'keyhold_job_queue_oldest_age_seconds',
    help: 'Age of the oldest pending job, by kind (read at scrape time; 0 when none is pending).',
    labelNames: ['kind'],
    registers: [registry],
  });

  // Every known series starts at 0, so rate() and increase() see the first event.
  for (const outcome of ['success', 'failure', 'locked'] as const) signIns.labels('pwd', outcome).inc(0);
  signIns.labels('oauth', 'success').inc(0);
  for (const outcome of ['rotated', 'grace', 'reuse', 'refused'] as const) refreshes.labels(outcome).inc(0);
  for (const result of ['sent', 'retry', 'failed'] as const) {
    emails.labels(result).inc(0);
    webhookDeliveries.labels(result).inc(0);
  }

  // The request hook runs on every request: label lookups are cached per series.
  const durationSeries = new Map<string, ReturnType<typeof requestDuration.labels>>();

  async function readQueues(): Promise<void> {
    if (!options.queueStats) return;
    let stats: QueueStat[];
    try {
      stats = await options.queueStats();
    } catch (err) {
      queueDepth.reset();
      oldestJobAge.reset();
      options.onQueueStatsError?.(err);
      return;
    }
    // Reset and set with no await in between, so a concurrent scrape never sees half of it.
    queueDepth.reset();
    oldestJobAge.reset();
    for (const stat of stats) {
      queueDepth.labels(stat.kind).set(stat.pending);
      oldestJobAge.labels(stat.kind).set(stat.oldestAgeSeconds);
    }
  }

  return {
    enabled: true,
    signIns: { inc: (method, outcome) => signIns.labels(method, outcome).inc() },
    refreshes: { inc: (outcome) => refreshes.labels(outcome).inc() },
    emails: { inc: (result) => emails.labels(result).inc() },
    webhookDeliveries: { inc: (result) => webhookDeliveries.labels(result).inc() },
    purgedRows: {
      inc: (table, n) => {
        if (n > 0) purgedRows.labels(table).inc(n);
      },
    },
    observeRequest({ method, route, statusCode, seconds }) {
      const key = `${method} ${route ?? ''} ${statusCode}`;
      let series = durationSeries.get(key);
      if (!series) {
        series = requestDuration.labels(method, route ?? UNMATCHED_ROUTE, String(statusCode));
        durationSeries.set(key, series);
      }
      series.observe(seconds);
    },
    async scrape() {
      await readQueues();
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}
