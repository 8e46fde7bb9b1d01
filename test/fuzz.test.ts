// Property-based fuzzing of every route in the OpenAPI document: random and adversarial
// bodies, headers, path parameters and tokens never produce a 5xx, a stack trace, or a
// database change (beyond the audit rows of failed logins, which are the point of them).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { sql } from 'kysely';
import { startTestApp, type TestApp } from './helpers/app.js';
import { registerAndSignIn, type SignedInUser } from './helpers/fixtures.js';

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

const TABLES = ['users', 'accounts', 'subscriptions', 'invite_codes', 'account_invites', 'sessions', 'refresh_tokens',
  'password_reset_tokens', 'email_verification_tokens', 'oauth_identities', 'oauth_states', 'platform_settings', 'app_secrets'];

describe('fuzzing every public endpoint', () => {
  let t: TestApp;
  let user: SignedInUser;
  let routes: Route[];
  before(async () => {
    t = await startTestApp('pglite');
    user = await registerAndSignIn(t.api);
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
    // The delivery worker updates outbox rows by itself; what matters is that nothing new is queued.
    const outbox = await t.app.ctx.db.selectFrom('email_outbox').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
    counts.email_outbox = String(outbox.n);
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
        fc.constantFrom('application/json', 'application/x-www-form-urlencoded', 'text/plain', 'application/json; charset=utf-16'),
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
    const unexpected = audit.map((a) => a.action).filter((a) => !['auth.register', 'auth.login', 'auth.login_failed'].includes(a));
    assert.deepEqual(unexpected, []);
  });
});
