// GET /metrics: off by default, bearer-protected with METRICS_TOKEN, Prometheus text format,
// counters that follow the traffic, and no label that identifies a user.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../src/config.js';
import { createMetrics } from '../src/modules/metrics/metrics.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { DATABASE_KINDS } from './helpers/database.js';
import { PASSWORD, registerUser, signIn, uniqueEmail } from './helpers/fixtures.js';
import { signInAtProvider, TestOpenIdServer } from './helpers/oidc-provider.js';

interface MetricFamily {
  name: string;
  help: string;
  type: string;
  metrics: Array<{ labels?: Record<string, string>; value?: string }>;
}
// parse-prometheus-text-format is CommonJS without types. It checks the text format and the
// families' types, but folds a labelled histogram's series into one, so the series themselves
// are read by `series` below, which also holds every line to the exposition format's grammar.
const parsePrometheus = createRequire(import.meta.url)('parse-prometheus-text-format') as (text: string) => MetricFamily[];

interface Series {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*",?)*)\})? (\S+)(?: -?\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"/g;

function series(text: string): Series[] {
  const all: Series[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
    const match = SAMPLE_LINE.exec(line);
    assert.ok(match, `not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, name, raw] of (match[2] ?? '').matchAll(LABEL)) labels[name!] = raw!.replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
    // Go's ParseFloat: NaN and ±Inf in any case (prom-client writes an empty gauge's NaN as "Nan").
    const raw = match[3]!;
    const value = /^nan$/i.test(raw) ? Number.NaN : /^[+-]?inf$/i.test(raw) ? (raw.startsWith('-') ? -Infinity : Infinity) : Number(raw);
    assert.ok(!Number.isNaN(value) || /^nan$/i.test(raw), line);
    all.push({ name: match[1]!, labels, value });
  }
  return all;
}

const TOKEN = 'metrics-token-0123456789abcdef';

async function scrape(t: TestApp, token?: string): Promise<{ status: number; contentType: string | null; text: string }> {
  const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
  const response = await fetch(`${t.baseUrl}/metrics`, { headers });
  return { status: response.status, contentType: response.headers.get('content-type'), text: await response.text() };
}

interface Scrape {
  families: MetricFamily[];
  series: Series[];
}

async function read(t: TestApp): Promise<Scrape> {
  const { status, contentType, text } = await scrape(t);
  assert.equal(status, 200, text);
  assert.match(contentType ?? '', /^text\/plain; version=0\.0\.4/);
  return { families: parsePrometheus(text), series: series(text) };
}

const parse = (text: string): Scrape => ({ families: parsePrometheus(text), series: series(text) });

/** The value of one series (every label given must match), 0 when it does not exist yet. */
function value(all: Scrape, name: string, labels: Record<string, string>): number {
  const found = all.series.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  assert.ok(found.length <= 1, `${name} ${JSON.stringify(labels)} matches ${found.length} series`);
  return found[0]?.value ?? 0;
}

describe('metrics, configuration', () => {
  it('is off by default: no /metrics route, and a no-op takes every call', async () => {
    const t = await startTestApp('pglite');
    try {
      const response = await scrape(t);
      assert.equal(response.status, 404);
      assert.deepEqual(JSON.parse(response.text), { detail: 'Not Found', code: 'not_found' });
      assert.equal(t.app.ctx.metrics.enabled, false);
      // Call sites never branch: the no-op takes every call.
      t.app.ctx.metrics.purgedRows.inc('sessions', 3);
      t.app.ctx.metrics.webhookDeliveries.inc('sent');
    } finally {
      await t.close();
    }
  });

  it('reads METRICS_ENABLED and METRICS_TOKEN, and never echoes a bad token', () => {
    const config = loadConfig({ METRICS_ENABLED: 'true', METRICS_TOKEN: TOKEN });
    assert.equal(config.metricsEnabled, true);
    assert.equal(config.metricsToken, TOKEN);
    assert.equal(loadConfig({}).metricsEnabled, false);
    assert.equal(loadConfig({}).metricsToken, undefined);
    assert.throws(() => loadConfig({ METRICS_ENABLED: 'maybe' }), /METRICS_ENABLED must be true or false/);
    for (const bad of ['short-secret', 'a token with spaces 0123456789']) {
      assert.throws(
        () => loadConfig({ METRICS_ENABLED: 'true', METRICS_TOKEN: bad }),
        (err: Error) => err.message.startsWith('Invalid configuration: METRICS_TOKEN') && !err.message.includes(bad),
      );
    }
  });

  it('keeps one registry per app: two apps do not share counters', async () => {
    const a = await createMetrics({ enabled: true });
    const b = await createMetrics({ enabled: true });
    a.refreshes.inc('rotated');
    a.purgedRows.inc('refresh_tokens', 5);
    const one = parse((await a.scrape()).body);
    const two = parse((await b.scrape()).body);
    assert.equal(value(one, 'keyhold_refreshes_total', { outcome: 'rotated' }), 1);
    assert.equal(value(two, 'keyhold_refreshes_total', { outcome: 'rotated' }), 0);
    assert.equal(value(one, 'keyhold_purged_rows_total', { table: 'refresh_tokens' }), 5);
    // prom-client's process metrics are on each app's own registry.
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds']) {
      assert.ok(two.families.some((f) => f.name === name), name);
    }
  });
});

describe('metrics, METRICS_TOKEN', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp('pglite', { env: { METRICS_ENABLED: 'true', METRICS_TOKEN: TOKEN } });
  });
  after(() => t.close());

  it('answers 401 without the bearer token or with a wrong one, 200 with it', async () => {
    const wrong: Array<Record<string, string>> = [
      {},
      { authorization: `Bearer ${TOKEN}x` },
      { authorization: `Bearer ${TOKEN.slice(0, -1)}` },
      { authorization: `Basic ${TOKEN}` },
      { authorization: TOKEN },
      { authorization: 'Bearer' },
    ];
    for (const headers of wrong) {
      const response = await fetch(`${t.baseUrl}/metrics`, { headers });
      assert.equal(response.status, 401, JSON.stringify(headers));
      assert.deepEqual(await response.json(), { detail: 'Could not validate credentials', code: 'not_authenticated' });
      assert.equal(response.headers.get('www-authenticate'), 'Bearer');
    }
    const ok = await scrape(t, TOKEN);
    assert.equal(ok.status, 200);
    assert.ok(parse(ok.text).families.some((f) => f.name === 'keyhold_sign_ins_total'));
    assert.equal((await fetch(`${t.baseUrl}/metrics`, { headers: { authorization: `bearer ${TOKEN}` } })).status, 200);
    assert.ok(!t.logs.join('').includes(TOKEN), 'the token is never logged');
  });

  it('is not in the OpenAPI document and not under the API prefix', async () => {
    const doc = (await (await fetch(`${t.baseUrl}/openapi.json`)).json()) as { paths: Record<string, unknown> };
    assert.ok(!Object.keys(doc.paths).some((path) => path.includes('metrics')), Object.keys(doc.paths).join(' '));
    assert.equal((await t.api.get('/metrics')).status, 404);
  });
});

for (const kind of DATABASE_KINDS) {
  describe(`metrics, traffic (${kind})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(kind, { env: { METRICS_ENABLED: 'true' } });
    });
    after(() => t.close());

    it('counts sign-ins, failures, lockouts and refresh outcomes, and times requests by route', async () => {
      const start = await read(t);
      const { email, user } = await registerUser(t.api);
      const { accessToken, refreshToken } = await signIn(t.api, email);
      assert.equal((await t.api.post('/auth/login/json', { email, password: 'wrong password 123' })).status, 401);
      assert.equal((await t.api.post('/auth/login/json', { email: uniqueEmail('nobody'), password: PASSWORD })).status, 401);
      assert.equal((await t.api.get('/auth/me', accessToken)).status, 200);

      const rotated = await t.api.post('/auth/refresh', { refresh_token: refreshToken });
      assert.equal(rotated.status, 200);
      // The just-rotated parent, within REFRESH_REUSE_INTERVAL_SECONDS: the same child again.
      assert.equal((await t.api.post('/auth/refresh', { refresh_token: refreshToken })).status, 200);
      // Outside the grace window: reuse, and the session ends.
      t.clock.advanceSeconds(60);
      assert.equal((await t.api.post('/auth/refresh', { refresh_token: refreshToken })).status, 401);
      // Again: nothing left to revoke, a plain refusal. And a token that is not one.
      assert.equal((await t.api.post('/auth/refresh', { refresh_token: refreshToken })).status, 401);
      assert.equal((await t.api.post('/auth/refresh', { refresh_token: 'not-a-token' })).status, 401);
      // A path no route matches, carrying the user's id and email: one `unmatched` label.
      assert.equal((await t.api.get(`/users/${user.id}/${encodeURIComponent(email)}`)).status, 404);

      // Ten wrong passwords lock the account; the next attempt is refused as locked.
      const victim = await registerUser(t.api);
      for (let i = 0; i < 10; i++) {
        assert.equal((await t.api.post('/auth/login/json', { email: victim.email, password: `wrong password ${i}` })).status, 401);
      }
      assert.equal((await t.api.post('/auth/login/json', { email: victim.email, password: PASSWORD })).status, 401);

      const end = await read(t);
      const delta = (name: string, labels: Record<string, string>) => value(end, name, labels) - value(start, name, labels);
      assert.equal(delta('keyhold_sign_ins_total', { method: 'pwd', outcome: 'success' }), 1);
      assert.equal(delta('keyhold_sign_ins_total', { method: 'pwd', outcome: 'failure' }), 2 + 10);
      assert.equal(delta('keyhold_sign_ins_total', { method: 'pwd', outcome: 'locked' }), 1);
      assert.equal(delta('keyhold_sign_ins_total', { method: 'oauth', outcome: 'success' }), 0);
      assert.equal(delta('keyhold_refreshes_total', { outcome: 'rotated' }), 1);
      assert.equal(delta('keyhold_refreshes_total', { outcome: 'grace' }), 1);
      assert.equal(delta('keyhold_refreshes_total', { outcome: 'reuse' }), 1);
      assert.equal(delta('keyhold_refreshes_total', { outcome: 'refused' }), 2);

      const count = 'keyhold_http_request_duration_seconds_count';
      assert.equal(delta(count, { route: '/api/v1/auth/me', method: 'GET', status_code: '200' }), 1);
      assert.equal(delta(count, { route: '/api/v1/auth/refresh', method: 'POST', status_code: '200' }), 2);
      assert.equal(delta(count, { route: '/api/v1/auth/refresh', method: 'POST', status_code: '401' }), 3);
      assert.equal(delta(count, { route: 'unmatched', method: 'GET', status_code: '404' }), 1);
      assert.equal(
        value(end, 'keyhold_http_request_duration_seconds_bucket', { route: '/api/v1/auth/me', method: 'GET', status_code: '200', le: '+Inf' }),
        value(end, count, { route: '/api/v1/auth/me', method: 'GET', status_code: '200' }),
      );
      assert.equal(end.families.find((f) => f.name === 'keyhold_http_request_duration_seconds')?.type, 'HISTOGRAM');
      assert.equal(end.families.find((f) => f.name === 'keyhold_sign_ins_total')?.type, 'COUNTER');

      // No label value anywhere carries this traffic's users, emails, addresses or raw paths.
      const forbidden = [user.id, email, victim.user.id, victim.email, '127.0.0.1', '/users/'];
      for (const sample of end.series) {
        for (const [label, labelValue] of Object.entries(sample.labels)) {
          for (const secret of forbidden) {
            assert.ok(!labelValue.includes(secret), `${sample.name}{${label}="${labelValue}"} contains ${secret}`);
          }
        }
      }
      const routes = new Set(end.series.filter((s) => s.name === count).map((s) => s.labels.route!));
      for (const route of routes) assert.ok(route === 'unmatched' || route.startsWith('/'), route);
    });

    it('reports the queue depth and oldest age of pending email', async () => {
      await registerUser(t.api); // queues a verification email; without SMTP_URL it stays pending
      t.clock.advanceSeconds(1);
      const pending = await t.app.ctx.db
        .selectFrom('jobs')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .where('kind', '=', 'email')
        .where('status', '=', 'pending')
        .executeTakeFirstOrThrow();
      assert.ok(Number(pending.n) >= 1);
      const all = await read(t);
      assert.equal(value(all, 'keyhold_job_queue_depth', { kind: 'email' }), Number(pending.n));
      const age = value(all, 'keyhold_job_queue_oldest_age_seconds', { kind: 'email' });
      assert.ok(age >= 0 && age < 600, String(age));
      // The email counters exist from the start, at zero until a delivery is attempted.
      for (const result of ['sent', 'retry', 'failed']) {
        assert.ok(all.series.some((s) => s.name === 'keyhold_emails_total' && s.labels.result === result), result);
        assert.ok(all.series.some((s) => s.name === 'keyhold_webhook_deliveries_total' && s.labels.result === result), result);
      }
    });
  });
}

describe('metrics, OAuth sign-in', () => {
  const REDIRECT_URI = 'https://app.test/oauth/callback';
  let idp: TestOpenIdServer;
  let untrust: () => void;
  let t: TestApp;
  let issuer: Awaited<ReturnType<TestOpenIdServer['addIssuer']>>;
  before(async () => {
    idp = await TestOpenIdServer.start();
    issuer = await idp.addIssuer({ path: '/acme', clients: [{ clientId: 'keyhold-acme' }], redirectUris: [REDIRECT_URI] });
    untrust = idp.trustTestServer();
    t = await startTestApp('pglite', {
      env: {
        METRICS_ENABLED: 'true',
        OIDC_PROVIDERS: 'acme',
        OIDC_ACME_ISSUER: issuer.issuer,
        OIDC_ACME_CLIENT_ID: 'keyhold-acme',
        OIDC_ACME_TRUST_EMAIL: 'true',
        OAUTH_REDIRECT_URIS: REDIRECT_URI,
      },
    });
  });
  after(async () => {
    await t?.close();
    untrust?.();
    await idp?.close();
  });

  it('counts a sign-in through a provider as method oauth', async () => {
    const start = await read(t);
    const account = issuer.addAccount({ sub: 'sub-metrics', email: uniqueEmail('oauth'), email_verified: true, name: 'Olivia Auth' });
    const authorize = await t.api.get(`/auth/acme/authorize?redirect_uri=${encodeURIComponent(REDIRECT_URI)}`);
    assert.equal(authorize.status, 200, JSON.stringify(authorize.body));
    const params = await signInAtProvider(authorize.body.authorization_url, account.sub, REDIRECT_URI);
    const callback = await t.api.post('/auth/acme/callback', {
      code: params.get('code'),
      state: params.get('state'),
      redirect_uri: REDIRECT_URI,
      ...(params.get('iss') ? { iss: params.get('iss') } : {}),
    });
    assert.equal(callback.status, 200, JSON.stringify(callback.body));
    const end = await read(t);
    const delta = (labels: Record<string, string>) => value(end, 'keyhold_sign_ins_total', labels) - value(start, 'keyhold_sign_ins_total', labels);
    assert.equal(delta({ method: 'oauth', outcome: 'success' }), 1);
    assert.equal(delta({ method: 'pwd', outcome: 'success' }), 0);
    for (const sample of end.series) {
      for (const labelValue of Object.values(sample.labels)) {
        assert.ok(!labelValue.includes(account.email!) && !labelValue.includes(account.sub), `${sample.name} ${labelValue}`);
      }
    }
  });

  it('a provider failing at the token exchange is still a 503 (openid-client is loaded on first use)', async () => {
    // A dropped connection and a 5xx answer (openid-client's ResponseBodyError) alike.
    for (const intercept of [{ kind: 'drop' } as const, { kind: 'reply', status: 500, body: { error: 'server_error' } } as const]) {
      const account = issuer.addAccount({ sub: `sub-${intercept.kind}`, email: uniqueEmail('oauth'), email_verified: true, name: 'Otto Down' });
      const authorize = await t.api.get(`/auth/acme/authorize?redirect_uri=${encodeURIComponent(REDIRECT_URI)}`);
      const params = await signInAtProvider(authorize.body.authorization_url, account.sub, REDIRECT_URI);
      issuer.tokenIntercept = intercept;
      try {
        const response = await t.api.post('/auth/acme/callback', {
          code: params.get('code'),
          state: params.get('state'),
          redirect_uri: REDIRECT_URI,
          ...(params.get('iss') ? { iss: params.get('iss') } : {}),
        });
        assert.equal(response.status, 503, `${intercept.kind}: ${JSON.stringify(response.body)}`);
        assert.deepEqual(response.body, { detail: 'OAuth provider unavailable', code: 'oauth_provider_unavailable' });
      } finally {
        issuer.tokenIntercept = null;
      }
    }
  });
});
