// Stable error codes (../shared/API.md, "Errors: stable codes"): every catalogue entry has one,
// the OpenAPI document lists them, every reachable entry's code is asserted by some suite, an
// expired access token says so, and requests refused before their handler spend no guess budget.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AppError, ERROR_CODES, Errors, isCatalogued, type ErrorCode } from '../src/lib/errors.js';
import { pageRefusal, pageText } from '../src/modules/hosted-ui/page-text.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { PASSWORD, registerAndSignIn, uniqueEmail } from './helpers/fixtures.js';

/** Arguments for the entries that take some. */
const SAMPLE_ARGS: Partial<Record<keyof typeof Errors, unknown[]>> = {
  useOAuthProvider: [['github']],
  rateLimitExceeded: [5, 30],
  requestRefused: [400],
  methodNotAllowed: [['POST']],
  pageSessionEnded: ['/ui/sign-in'],
  passkeyNameRefused: ['Use at most 64 characters.'],
};

const entries = (): Array<[string, AppError]> =>
  Object.entries(Errors).map(([name, make]) => [name, (make as (...args: unknown[]) => AppError)(...(SAMPLE_ARGS[name as keyof typeof Errors] ?? []))]);

/**
 * Codes no suite can provoke over HTTP, and why; every other code must be asserted by some test
 * file (a line naming `code` and the code, e.g. `{ detail: '…', code: 'invite_not_found' }`).
 */
const UNREACHABLE: Partial<Record<ErrorCode, string>> = {
  internal_error: 'only an unexpected fault answers it (faults.test.ts asserts the 500 body by its detail)',
  oauth_provider_unavailable: 'needs an identity provider that cannot be reached; oauth.test.ts covers it by status',
  oauth_no_email: 'needs an identity provider that withholds the address',
  account_not_found: 'every user has an account; only a race with the account\'s deletion answers it',
  invalid_reset_token: 'only a user deleted between the token\'s issue and its use answers it',
  invalid_verification_token: 'only a user deleted (or a row of another user) between the token\'s issue and its use answers it',
  signing_key_not_found: 'the CLI\'s (keys-cli.test.ts asserts its message); no HTTP route names a key',
  scim_error: '/scim/v2 answers in the SCIM error schema (`scimType`, scim.test.ts), never with this internal code',
};

describe('error catalogue', () => {
  it('gives every entry a snake_case code from the one list, and keeps codes unique per situation', () => {
    for (const [name, error] of entries()) {
      assert.ok(error instanceof AppError, name);
      assert.match(error.code, /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/, name);
      assert.ok(error.code in ERROR_CODES, `${name}: ${error.code} is not listed in ERROR_CODES`);
    }
    // One code may be answered with two statuses (invalid_mfa_code: 400 when enabling, 401 at
    // sign-in), but one code never means two different messages except where listed.
    // scim_error: SCIM's own errors, told apart by their scimType in the SCIM error schema.
    const sharedCodes = new Set(['current_password_required', 'not_authenticated', 'validation_failed', 'bad_request', 'scim_error']);
    const details = new Map<string, string>();
    for (const [name, error] of entries()) {
      const detail = JSON.stringify(error.detail);
      const seen = details.get(error.code);
      if (seen !== undefined && !sharedCodes.has(error.code)) assert.equal(detail, seen, `${name} (${error.code})`);
      details.set(error.code, detail);
    }
  });

  it('lists only codes that some entry or the error plugin uses', () => {
    const used = new Set<string>(entries().map(([, error]) => error.code));
    for (const status of [400, 404, 408, 413, 414, 415, 431]) used.add(Errors.requestRefused(status).code);
    used.add('validation_failed'); // the schema layer's 422 (plugins/errors.ts)
    assert.deepEqual(Object.keys(ERROR_CODES).filter((code) => !used.has(code)), []);
  });

  it('compares errors by code and status, not by message', () => {
    assert.ok(isCatalogued(Errors.invalidOrExpiredMfaToken(), Errors.invalidOrExpiredMfaToken));
    assert.ok(!isCatalogued(Errors.invalidMfaCode(), Errors.mfaSignInCodeRejected));
    assert.ok(!isCatalogued(Errors.tokenExpired(), Errors.credentials), 'same detail, another code');
    assert.ok(!isCatalogued(new Error('Invalid or expired MFA token'), Errors.invalidOrExpiredMfaToken));
  });

  it('has a suite asserting the code of every reachable entry', () => {
    const dir = fileURLToPath(new URL('.', import.meta.url));
    const sources = readdirSync(dir)
      .filter((name) => name.endsWith('.test.ts') || name.endsWith('.test.js'))
      .map((name) => readFileSync(new URL(name, import.meta.url), 'utf8'))
      .join('\n');
    // A line that asserts a reply's code and names this one.
    const asserted = (code: string): boolean => sources.split('\n').some((line) => /\bcode\b/.test(line) && (line.includes(`'${code}'`) || line.includes(`"code":"${code}"`)));
    const untested = Object.keys(ERROR_CODES).filter((code) => !(code in UNREACHABLE) && !asserted(code));
    assert.deepEqual(untested, []);
  });

  it('puts page text in one table keyed by code', () => {
    assert.equal(pageText(Errors.useOAuthProvider(['github', 'google'])).message, 'This account signs in with Github or Google.');
    assert.equal(pageText(Errors.inviteEmailMismatch()).message, 'This invitation was sent to a different email address.');
    assert.equal(pageText(Errors.incorrectEmailOrPassword()).message, 'Incorrect email or password');
    assert.deepEqual(pageText(Errors.passkeyNameRefused('Use at most 64 characters.')), { message: 'Name: Use at most 64 characters.', fields: {} });
    const csrf = Object.assign(new Error('Invalid csrf token'), { code: 'FST_CSRF_INVALID_TOKEN', statusCode: 403 });
    assert.deepEqual([pageRefusal(csrf).code, pageText(pageRefusal(csrf)).message], ['form_expired', 'This form has expired. Go back, reload the page and try again.']);
    assert.equal(pageRefusal(new Error('boom')).code, 'internal_error');
  });
});

describe('error codes over HTTP', () => {
  let t: TestApp;
  before(async () => {
    // Behind a trusted proxy, so each budget test draws from an address of its own.
    t = await startTestApp('pglite', { env: { RATE_LIMIT_ENABLED: 'true', TRUST_PROXY: 'true' } });
  });
  after(() => t.close());

  it('lists the codes once in the OpenAPI document, and names the error reply in every operation', async () => {
    const doc = (await (await fetch(`${t.baseUrl}/openapi.json`)).json()) as {
      components: { schemas: Record<string, { enum?: string[]; properties?: Record<string, unknown> }> };
      paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>>;
    };
    assert.deepEqual(doc.components.schemas.ErrorCode?.enum, Object.keys(ERROR_CODES));
    assert.deepEqual(doc.components.schemas.ErrorReply?.properties?.code, { $ref: '#/components/schemas/ErrorCode' });
    const operations = Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ path, method, op })));
    assert.ok(operations.length > 50);
    for (const { path, method, op } of operations) {
      assert.deepEqual(op.responses['4XX']?.content?.['application/json']?.schema, { $ref: '#/components/schemas/ErrorReply' }, `${method} ${path}`);
    }
  });

  it('answers an expired access token with token_expired and RFC 6750 invalid_token, a bad one without', async () => {
    const user = await registerAndSignIn(t.api);
    const bad = await t.api.get('/auth/me', `${user.accessToken}x`);
    assert.deepEqual([bad.status, bad.body, bad.headers.get('www-authenticate')], [401, { detail: 'Could not validate credentials', code: 'not_authenticated' }, 'Bearer']);
    const none = await t.api.get('/auth/me');
    assert.deepEqual([none.status, none.body.code], [401, 'not_authenticated']);
    assert.equal((await t.api.get('/auth/me', user.accessToken)).status, 200); // now remembered as verified
    t.clock.advanceSeconds(16 * 60);
    const expired = await t.api.get('/auth/me', user.accessToken);
    assert.deepEqual([expired.status, expired.body], [401, { detail: 'Could not validate credentials', code: 'token_expired' }]);
    assert.equal(expired.headers.get('www-authenticate'), 'Bearer error="invalid_token", error_description="The access token expired"');
    // A refresh token is never an access token, expired or not.
    const wrongType = await t.api.get('/auth/me', user.refreshToken);
    assert.equal(wrongType.body.code, 'not_authenticated');
  });

  it('answers with the codes of entries no other suite asserts', async () => {
    const user = await registerAndSignIn(t.api);
    const invite = await t.api.request('DELETE', `/accounts/me/invites/${randomUUID()}`, { token: user.accessToken });
    assert.deepEqual([invite.status, invite.body], [404, { detail: 'Invite not found', code: 'invite_not_found' }]);
    const passkey = await t.api.request('DELETE', `/auth/passkeys/${randomUUID()}`, { token: user.accessToken });
    assert.deepEqual([passkey.status, passkey.body], [404, { detail: 'Passkey not found', code: 'passkey_not_found' }]);
    const enable = await t.api.post('/auth/mfa/totp/enable', { code: '123456' }, user.accessToken);
    assert.deepEqual([enable.status, enable.body], [400, { detail: 'MFA setup has not been started', code: 'mfa_setup_not_started' }]);
  });

  it('answers a JSON route sent another media type with 415 unsupported_media_type', async () => {
    const form = await t.api.request('POST', '/auth/refresh', { form: { refresh_token: 'x' } });
    assert.deepEqual([form.status, form.body], [415, { detail: 'Unsupported media type', code: 'unsupported_media_type' }]);
  });

  it('spends no login budget on requests refused before the handler (415, 422, malformed JSON)', async () => {
    const headers = { 'x-forwarded-for': '203.0.113.7' };
    const refusedEarly = [
      () => t.api.request('POST', '/auth/login/json', { raw: 'x', headers: { ...headers, 'content-type': 'text/plain' } }),
      () => t.api.request('POST', '/auth/login/json', { raw: '{"email": ', headers }),
      () => t.api.request('POST', '/auth/login/json', { json: { email: 'not-an-email' }, headers }),
      () => t.api.request('POST', '/auth/login', { raw: '{}', headers }),
    ];
    for (let round = 0; round < 2; round++) {
      for (const send of refusedEarly) assert.ok([415, 422].includes((await send()).status));
    }
    // All five guesses are still there.
    for (let i = 0; i < 5; i++) {
      const wrong = await t.api.request('POST', '/auth/login/json', { json: { email: uniqueEmail(), password: PASSWORD }, headers });
      assert.deepEqual([wrong.status, wrong.body], [401, { detail: 'Incorrect email or password', code: 'invalid_credentials' }], `guess ${i + 1}`);
    }
    assert.equal((await t.api.request('POST', '/auth/login/json', { json: { email: uniqueEmail(), password: PASSWORD }, headers })).status, 429);
  });

  it('spends no password-check budget on a profile change refused before the handler', async () => {
    const user = await registerAndSignIn(t.api);
    const headers = { 'x-forwarded-for': '203.0.113.8' };
    for (let i = 0; i < 6; i++) {
      const malformed = await t.api.request('PATCH', '/auth/me', { raw: '{"current_password": ', token: user.accessToken, headers });
      assert.equal(malformed.status, 422);
      const refused = await t.api.request('PATCH', '/auth/me', { raw: 'x', token: user.accessToken, headers: { ...headers, 'content-type': 'text/plain' } });
      assert.equal(refused.status, 415);
    }
    const wrong = await t.api.request('PATCH', '/auth/me', { json: { email: uniqueEmail(), current_password: 'wrong password' }, token: user.accessToken, headers });
    assert.deepEqual([wrong.status, wrong.body], [401, { detail: 'Current password is incorrect', code: 'current_password_incorrect' }]);
  });
});
