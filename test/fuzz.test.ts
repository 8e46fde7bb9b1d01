// Property-based fuzzing of every route in the OpenAPI document: random and adversarial
// bodies, headers, path parameters and tokens never produce a 5xx, a stack trace, or a
// database change (beyond the audit rows of failed logins, which are the point of them).
// Bodies the API cannot read (multipart where JSON is expected, broken multipart, other
// types and charsets) get a 4xx with a detail on every route, and nothing in the log.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { sql } from 'kysely';
import { ensureAdmin } from '../src/modules/admin/create-admin.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { PASSWORD, registerAndSignIn, signIn, uniqueEmail, type SignedInUser } from './helpers/fixtures.js';
import { queuedEmails } from './helpers/jobs.js';

interface Route {
  method: string;
  path: string;
}

const adversarialString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    '', ' ', '\u0000', 'a\u0000b', "' OR 1=1 --", '"; DROP TABLE users; --', '<script>alert(1)</script>', '../../etc/passwd',
    '${jndi:ldap://x}', '%00', '\uFEFF', '\uD800', 'ǅ', 'ﬃ', 'A'.repeat(300), 'admin@example.com', 'a@b.co',
    'eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.', '00000000-0000-0000-0000-000000000000', 'NaN', '-1', '1e309',
  ),
);

const jsonValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    adversarialString,
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(adversarialString, tie('value'), { maxKeys: 4 }),
  ),
})).value;

const FIELDS = ['email', 'password', 'name', 'refresh_token', 'token', 'new_password', 'current_password', 'code', 'state',
  'redirect_uri', 'invite_code', 'account_invite_code', 'role', 'account_role', 'value', 'is_active', 'count', 'username'];

const body = fc.oneof(
  jsonValue,
  fc.dictionary(fc.constantFrom(...FIELDS), jsonValue, { maxKeys: 6 }),
  fc.dictionary(fc.constantFrom(...FIELDS), adversarialString, { maxKeys: 6 }),
);

const authorization = (user: SignedInUser) =>
  fc.oneof(
    fc.constant(undefined),
    fc.constant(`Bearer ${user.accessToken}`),
    fc.constant(`Bearer ${user.refreshToken}`),
    adversarialString.map((s) => `Bearer ${s}`),
    adversarialString,
  );

/** encodeURIComponent throws on lone surrogates; a client could not send those anyway. */
function safePathSegment(value: string): string {
  try {
    return encodeURIComponent(value) || 'x';
  } catch {
    return 'x';
  }
}

/** Bodies of every type the API does not read, or cannot read: each must be a 4xx with a detail. */
const UNREADABLE_BODIES: Array<{ label: string; headers: string[]; body: string }> = [
  { label: 'multipart without a boundary', headers: ['Content-Type: multipart/form-data'], body: 'x' },
  { label: 'multipart with an empty boundary', headers: ['Content-Type: multipart/form-data; boundary='], body: '--\r\n' },
  { label: 'multipart with a 300-character boundary', headers: [`Content-Type: multipart/form-data; boundary=${'b'.repeat(300)}`], body: 'x' },
  { label: 'multipart whose body uses another boundary', headers: ['Content-Type: multipart/form-data; boundary=abc'],
    body: '--xyz\r\nContent-Disposition: form-data; name="username"\r\n\r\na@b.co\r\n--xyz--\r\n' },
  { label: 'multipart truncated mid-part', headers: ['Content-Type: multipart/form-data; boundary=abc'],
    body: '--abc\r\nContent-Disposition: form-data; name="username"\r\n\r\na@b.co\r\n--abc\r\nContent-Disposition: form-data; name="password"\r\n\r\nsecr' },
  { label: 'multipart with a malformed part header', headers: ['Content-Type: multipart/form-data; boundary=abc'],
    body: '--abc\r\nnot a header\r\n\r\nx\r\n--abc--\r\n' },
  { label: 'multipart with a file', headers: ['Content-Type: multipart/form-data; boundary=abc'],
    body: '--abc\r\nContent-Disposition: form-data; name="f"; filename="a.txt"\r\n\r\nx\r\n--abc--\r\n' },
  { label: 'multipart with a __proto__ field', headers: ['Content-Type: multipart/form-data; boundary=abc'],
    body: '--abc\r\nContent-Disposition: form-data; name="__proto__"\r\n\r\nx\r\n--abc--\r\n' },
  { label: 'multipart with an invalid JSON field', headers: ['Content-Type: multipart/form-data; boundary=abc'],
    body: '--abc\r\nContent-Disposition: form-data; name="username"\r\nContent-Type: application/json\r\n\r\n{x\r\n--abc--\r\n' },
  { label: 'text/plain', headers: ['Content-Type: text/plain'], body: '{}' },
  { label: 'application/xml', headers: ['Content-Type: application/xml'], body: '<a/>' },
  { label: 'a body without a Content-Type', headers: [], body: '{"email":"a@b.co"}' },
  { label: 'a Content-Type that does not parse', headers: ['Content-Type: json'], body: '{}' },
  { label: 'JSON in latin1', headers: ['Content-Type: application/json; charset=latin1'], body: '{}' },
  { label: 'JSON in UTF-16', headers: ['Content-Type: application/json; charset=utf-16'], body: '{}' },
  { label: 'two Content-Type headers', headers: ['Content-Type: application/json', 'Content-Type: multipart/form-data; boundary=abc'], body: '{}' },
  { label: 'two types in one Content-Type', headers: ['Content-Type: application/json, text/plain'], body: '{}' },
  { label: 'malformed JSON', headers: ['Content-Type: application/json'], body: '{"email":' },
];

/** One request written byte for byte: fetch cannot send duplicate headers or a body without a type. */
function rawRequest(baseUrl: string, method: string, path: string, headers: string[], body: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(baseUrl);
  const head = [`${method} ${path} HTTP/1.1`, `Host: ${hostname}`, 'Connection: close', ...headers, `Content-Length: ${Buffer.byteLength(body)}`];
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(Number(port), hostname, () => socket.end(`${head.join('\r\n')}\r\n\r\n${body}`));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]), body: text.slice(text.indexOf('\r\n\r\n') + 4) });
    });
  });
}

const TABLES = ['users', 'accounts', 'subscriptions', 'invite_codes', 'account_invites', 'sessions', 'refresh_tokens',
  'password_reset_tokens', 'email_verification_tokens', 'oauth_identities', 'oauth_states', 'platform_settings', 'app_secrets'];

describe('fuzzing every public endpoint', () => {
  let t: TestApp;
  let user: SignedInUser;
  let adminToken: string;
  let routes: Route[];
  before(async () => {
    t = await startTestApp('pglite');
    user = await registerAndSignIn(t.api);
    const adminEmail = uniqueEmail('admin');
    await ensureAdmin(t.app.ctx, { email: adminEmail, password: PASSWORD, name: 'Fuzz Admin' });
    adminToken = (await signIn(t.api, adminEmail)).accessToken;
    const doc = (await (await fetch(`${t.baseUrl}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    routes = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => ({ method: method.toUpperCase(), path })),
    );
  });
  after(() => t.close());

  const snapshot = async () => {
    const counts: Record<string, string> = {};
    for (const table of TABLES) {
      const row = await sql<{ digest: string }>`SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS digest FROM ${sql.table(table)} t`.execute(t.app.ctx.db);
      counts[table] = row.rows[0]!.digest;
    }
    // The delivery worker updates queued emails by itself; what matters is that nothing new is queued.
    counts.queued_emails = String((await queuedEmails(t.app.ctx.db)).length);
    return counts;
  };

  it('never answers 5xx or leaks a stack, and writes nothing', async () => {
    assert.ok(routes.length >= 8, `found ${routes.length} routes`);
    const before = await snapshot();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...routes),
        body,
        authorization(user),
        fc.constantFrom('application/json', 'application/x-www-form-urlencoded', 'text/plain', 'application/json; charset=utf-16',
          'multipart/form-data', 'multipart/form-data; boundary=fuzz', 'application/xml'),
        adversarialString,
        async (route, payload, auth, contentType, pathParam) => {
          // Live credentials may make legitimate changes (logout, send-verification): the
          // fuzzer's own valid tokens go only to read-only routes.
          if (JSON.stringify(payload ?? null).includes(user.refreshToken)) return;
          if (route.method !== 'GET' && auth?.includes(user.accessToken)) return;
          const path = route.path.replace(/\{[^}]+\}/g, safePathSegment(pathParam)).replace(/^\/api\/v1/, '');
          const headers: Record<string, string> = { 'content-type': contentType };
          if (auth !== undefined) headers.authorization = auth.replace(/[\r\n\u0000-\u001f\u007f-\uffff]/g, '');
          const raw = contentType.startsWith('application/x-www-form-urlencoded') && payload && typeof payload === 'object'
            ? new URLSearchParams(Object.entries(payload).map(([k, v]): [string, string] => [k, typeof v === 'string' ? v : JSON.stringify(v) ?? ''])).toString()
            : JSON.stringify(payload ?? null);
          const method = route.method;
          const res = await t.api.request(method, path, method === 'GET' || method === 'DELETE' ? { headers } : { raw, headers });
          assert.ok(res.status < 500, `${method} ${path} → ${res.status} ${JSON.stringify(res.body)}`);
          const text = typeof res.body === 'string' ? res.body : JSON.stringify(res.body ?? '');
          assert.doesNotMatch(text, /\bat [\w.<>]+ \(|node_modules|\/src\//, 'no stack trace');
        },
      ),
      { numRuns: 400, interruptAfterTimeLimit: 60_000, verbose: 1 },
    );
    const afterwards = await snapshot();
    assert.deepEqual(afterwards, before);
    const audit = await t.app.ctx.db.selectFrom('audit_logs').select('action').distinct().execute();
    // GET /auth/me/export is a read that is audited (a user's data left the service).
    const unexpected = audit.map((a) => a.action).filter((a) => !['admin.created', 'auth.register', 'auth.login', 'auth.login_failed', 'auth.data_exported'].includes(a));
    assert.deepEqual(unexpected, []);
  });

  it('answers every unreadable or unsupported body on every route with a 4xx detail, and logs no stack', async () => {
    const before = await snapshot();
    const logsBefore = t.logs.length;
    // Anonymous, then signed in (a user, an admin): the body is parsed only after authentication.
    const tokens = [undefined, user.accessToken, adminToken];
    for (const route of routes.filter((r) => !['GET', 'HEAD'].includes(r.method))) {
      const path = route.path.replace(/\{[^}]+\}/g, randomUUID());
      for (const token of tokens) {
        for (const { label, headers, body } of UNREADABLE_BODIES) {
          const auth = token ? [`Authorization: Bearer ${token}`] : [];
          const res = await rawRequest(t.baseUrl, route.method, path, [...auth, ...headers], body);
          const what = `${route.method} ${route.path} with ${label}${token ? ' (signed in)' : ''}`;
          assert.ok(res.status >= 400 && res.status < 500, `${what} → ${res.status} ${res.body}`);
          assert.ok('detail' in JSON.parse(res.body), `${what}: ${res.body}`);
        }
      }
    }
    const logged = t.logs.slice(logsBefore).join('');
    assert.doesNotMatch(logged, /"level":(50|60)/, 'nothing logged as an error');
    assert.doesNotMatch(logged, /"stack"|\bat [\w.<>]+ \(|unhandled error/, 'no stack in the log');
    assert.deepEqual(await snapshot(), before, 'nothing written');
  });
});
