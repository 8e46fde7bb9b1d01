// OAuth / OpenID Connect sign-in against a real OpenID provider (oidc-provider) on loopback,
// standing in for Google, Microsoft (multi-tenant, `{tenantid}` issuer) and a generic provider.
// Every flow goes over HTTP: /authorize, the provider's login page, /callback, then /auth/me
// and /auth/refresh with the tokens Keyhold issued.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { generateKeyPair, type KeyLike as CryptoKey } from 'jose';
import type { KyselyPlugin } from 'kysely';
import { signInWithIdentity } from '../src/modules/oauth/sign-in.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { freePort } from './helpers/ports.js';
import { DATABASE_KINDS } from './helpers/database.js';
import { PASSWORD, registerAndSignIn, uniqueEmail } from './helpers/fixtures.js';
import { queuedEmails } from './helpers/jobs.js';
import { signInAtProvider, TestOpenIdServer, type TestAccount, type TestIssuer } from './helpers/oidc-provider.js';

const REDIRECT_URI = 'https://app.test/oauth/callback';
const OTHER_REDIRECT_URI = 'https://app.test/oauth/other-callback';
const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const OTHER_TENANT = '9188040d-6c67-4c5b-b112-36a304b66dad';
const ENTRA = 'https://login.microsoftonline.com';

let idp: TestOpenIdServer;
let google: TestIssuer;
let microsoft: TestIssuer;
let acme: TestIssuer;
let flaky: TestIssuer;
let plain: TestIssuer;
let providerEnv: Record<string, string>;
let untrust: () => void;

before(async () => {
  idp = await TestOpenIdServer.start();
  const redirectUris = [REDIRECT_URI, OTHER_REDIRECT_URI];
  google = await idp.addIssuer({ path: '/google', clients: [{ clientId: 'keyhold-google', clientSecret: 'google-secret' }], redirectUris });
  // Microsoft: a tenant's issuer, reached through Entra ID's multi-tenant discovery document
  // (/common/v2.0), which names the template issuer .../{tenantid}/v2.0 and, like Entra ID,
  // does not send the RFC 9207 `iss` parameter.
  microsoft = await idp.addIssuer({
    path: `/${TENANT}/v2.0`,
    issuer: `${ENTRA}/${TENANT}/v2.0`,
    clients: [{ clientId: 'keyhold-microsoft', clientSecret: 'microsoft-secret' }],
    redirectUris,
  });
  idp.standIn(ENTRA);
  idp.route('/common/v2.0/.well-known/openid-configuration', async (_req, res) => {
    const metadata = (await (await fetch(`${idp.origin}/${TENANT}/v2.0/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    metadata.issuer = `${ENTRA}/{tenantid}/v2.0`;
    delete metadata.authorization_response_iss_parameter_supported;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(metadata));
  });
  // A generic provider with a public client (PKCE only) that puts profile claims only in UserInfo.
  acme = await idp.addIssuer({ path: '/acme', clients: [{ clientId: 'keyhold-acme' }], redirectUris, claimsIn: 'userinfo' });
  flaky = await idp.addIssuer({ path: '/flaky', clients: [{ clientId: 'keyhold-flaky' }], redirectUris });
  // A generic provider the operator did not mark as trusted for email.
  plain = await idp.addIssuer({ path: '/plain', clients: [{ clientId: 'keyhold-plain' }], redirectUris });
  untrust = idp.trustTestServer();

  providerEnv = {
    GOOGLE_CLIENT_ID: 'keyhold-google',
    GOOGLE_CLIENT_SECRET: 'google-secret',
    GOOGLE_ISSUER: google.issuer,
    // MICROSOFT_ISSUER left at its default: https://login.microsoftonline.com/common/v2.0
    MICROSOFT_CLIENT_ID: 'keyhold-microsoft',
    MICROSOFT_CLIENT_SECRET: 'microsoft-secret',
    OIDC_PROVIDERS: 'acme,flaky,offline,plain',
    OIDC_ACME_ISSUER: acme.issuer,
    OIDC_ACME_CLIENT_ID: 'keyhold-acme',
    OIDC_ACME_TRUST_EMAIL: 'true',
    OIDC_PLAIN_ISSUER: plain.issuer,
    OIDC_PLAIN_CLIENT_ID: 'keyhold-plain',
    OIDC_FLAKY_ISSUER: flaky.issuer,
    OIDC_FLAKY_CLIENT_ID: 'keyhold-flaky',
    OIDC_OFFLINE_ISSUER: `https://127.0.0.1:${await freePort()}`,
    OIDC_OFFLINE_CLIENT_ID: 'keyhold-offline',
    OAUTH_REDIRECT_URIS: `${REDIRECT_URI},${OTHER_REDIRECT_URI}`,
  };
});

after(async () => {
  untrust?.();
  await idp?.close();
});

const newAccount = (issuer: TestIssuer, overrides: Partial<TestAccount> = {}): TestAccount =>
  issuer.addAccount({ sub: `sub-${randomBytes(6).toString('hex')}`, email: uniqueEmail('oauth'), email_verified: true, name: 'Olivia Auth', ...overrides });

async function authorize(t: TestApp, provider = 'google', redirectUri = REDIRECT_URI) {
  const response = await t.api.get(`/auth/${provider}/authorize?redirect_uri=${encodeURIComponent(redirectUri)}`);
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return response.body as { authorization_url: string; state: string };
}

interface FlowOptions {
  provider?: string;
  redirectUri?: string;
  extra?: Record<string, unknown>;
}

/** Authorize, sign in at the provider as `account`, and return the callback body the front end would post. */
async function providerSignIn(t: TestApp, account: TestAccount, options: FlowOptions = {}) {
  const { provider = 'google', redirectUri = REDIRECT_URI } = options;
  const { authorization_url, state } = await authorize(t, provider, redirectUri);
  const params = await signInAtProvider(authorization_url, account.sub, redirectUri);
  assert.equal(params.get('state'), state);
  // Entra ID sends no `iss`; the stand-in does, so the "front end" drops it like Entra would.
  const iss = provider === 'microsoft' ? undefined : params.get('iss') ?? undefined;
  return { code: params.get('code'), state, redirect_uri: redirectUri, ...(iss ? { iss } : {}), ...options.extra };
}

async function oauthSignIn(t: TestApp, account: TestAccount, options: FlowOptions = {}) {
  const body = await providerSignIn(t, account, options);
  return { body, response: await t.api.post(`/auth/${options.provider ?? 'google'}/callback`, body) };
}

/** Plays a misbehaving provider: the token endpoint answers with an ID token built by the test. */
async function callbackWithIdToken(t: TestApp, issuer: TestIssuer, provider: string, claims: (nonce: string) => Record<string, unknown>, key?: CryptoKey) {
  const { authorization_url, state } = await authorize(t, provider);
  const nonce = new URL(authorization_url).searchParams.get('nonce')!;
  const idToken = await issuer.signIdToken(claims(nonce), key);
  issuer.tokenIntercept = { kind: 'reply', status: 200, body: { access_token: 'opaque', token_type: 'Bearer', expires_in: 60, id_token: idToken } };
  try {
    const iss = provider === 'microsoft' ? {} : { iss: issuer.issuer };
    return await t.api.post(`/auth/${provider}/callback`, { code: 'code-from-provider', state, redirect_uri: REDIRECT_URI, ...iss });
  } finally {
    issuer.tokenIntercept = null;
  }
}

async function usersWithEmail(t: TestApp, email: string) {
  return t.app.ctx.db.selectFrom('users').selectAll().where('email', '=', email.toLowerCase()).execute();
}

async function auditActions(t: TestApp, userId: string): Promise<string[]> {
  const rows = await t.app.ctx.db.selectFrom('audit_logs').select('action').where('user_id', '=', userId).orderBy('id').execute();
  return rows.map((row) => row.action);
}

function assertSignInFailed(response: { status: number; body: unknown }) {
  assert.equal(response.status, 400, JSON.stringify(response.body));
  assert.deepEqual(response.body, { detail: 'OAuth sign-in failed', code: 'oauth_sign_in_failed' });
}

for (const kind of DATABASE_KINDS) {
  describe(`OAuth sign-in (${kind})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(kind, { env: providerEnv });
    });
    after(() => t.close());

    it('registers a new user, who can use the session and refresh it', async () => {
      const account = newAccount(google, { email: uniqueEmail('New.User') });
      const { authorization_url, state } = await authorize(t);
      const url = new URL(authorization_url);
      assert.equal(url.searchParams.get('code_challenge_method'), 'S256');
      assert.ok(url.searchParams.get('code_challenge'));
      assert.ok(url.searchParams.get('nonce'));
      assert.equal(url.searchParams.get('redirect_uri'), REDIRECT_URI);
      assert.equal(url.searchParams.get('client_id'), 'keyhold-google');
      // Only the hash of the state is stored.
      const row = await t.app.ctx.db.selectFrom('oauth_states').selectAll().where('state_hash', '=', sha256(state)).executeTakeFirst();
      assert.ok(row);
      assert.equal(row.provider, 'google');

      const params = await signInAtProvider(authorization_url, account.sub, REDIRECT_URI);
      const response = await t.api.post('/auth/google/callback', {
        code: params.get('code'), state, redirect_uri: REDIRECT_URI, iss: params.get('iss'),
      });
      assert.equal(response.status, 200, JSON.stringify(response.body));
      assert.equal(response.body.token_type, 'bearer');
      assert.equal(response.body.must_change_password, false);

      const me = await t.api.get('/auth/me', response.body.access_token);
      assert.equal(me.status, 200);
      assert.equal(me.body.email, account.email!.toLowerCase());
      assert.equal(me.body.name, 'Olivia Auth');
      assert.equal(me.body.has_password, false);
      assert.equal(me.body.account_role, 'owner');
      assert.ok(me.body.email_verified_at);
      assert.ok(me.body.last_login);
      const subscription = await t.app.ctx.db.selectFrom('subscriptions').selectAll().where('account_id', '=', me.body.account_id).executeTakeFirstOrThrow();
      assert.equal(subscription.status, 'trialing');
      const identity = await t.app.ctx.db.selectFrom('oauth_identities').selectAll().where('user_id', '=', me.body.id).executeTakeFirstOrThrow();
      assert.deepEqual([identity.provider, identity.subject], ['google', account.sub]);
      assert.deepEqual(await auditActions(t, me.body.id), ['auth.oauth_register', 'auth.oauth_login']);

      const refreshed = await t.api.post('/auth/refresh', { refresh_token: response.body.refresh_token });
      assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
      const used = await t.app.ctx.db.selectFrom('oauth_states').select('used_at').where('state_hash', '=', sha256(state)).executeTakeFirstOrThrow();
      assert.ok(used.used_at);
    });

    it('signs a returning user in to the same account', async () => {
      const account = newAccount(google);
      const first = await oauthSignIn(t, account);
      assert.equal(first.response.status, 200);
      const firstMe = await t.api.get('/auth/me', first.response.body.access_token);
      // The provider's email may change; the subject is what identifies the user.
      account.email = uniqueEmail('changed');
      const second = await oauthSignIn(t, account);
      assert.equal(second.response.status, 200, JSON.stringify(second.response.body));
      const secondMe = await t.api.get('/auth/me', second.response.body.access_token);
      assert.equal(secondMe.body.id, firstMe.body.id);
      assert.equal(secondMe.body.email, firstMe.body.email);
      assert.equal((await auditActions(t, firstMe.body.id)).filter((a) => a === 'auth.oauth_login').length, 2);
    });

    it('refuses a replayed, forged, expired or misdirected state', async () => {
      const account = newAccount(google);
      const { body, response } = await oauthSignIn(t, account);
      assert.equal(response.status, 200);
      const replayed = await t.api.post('/auth/google/callback', body);
      assert.equal(replayed.status, 400);
      assert.deepEqual(replayed.body, { detail: 'Invalid OAuth state', code: 'invalid_oauth_state' });

      const forged = await t.api.post('/auth/google/callback', { ...body, state: randomBytes(32).toString('base64url') });
      assert.deepEqual([forged.status, forged.body], [400, { detail: 'Invalid OAuth state', code: 'invalid_oauth_state' }]);

      // Bound to its provider and redirect_uri.
      const pending = await providerSignIn(t, account);
      const otherProvider = await t.api.post('/auth/acme/callback', pending);
      assert.deepEqual([otherProvider.status, otherProvider.body], [400, { detail: 'Invalid OAuth state', code: 'invalid_oauth_state' }]);
      const otherRedirect = await t.api.post('/auth/google/callback', { ...pending, redirect_uri: OTHER_REDIRECT_URI });
      assert.deepEqual([otherRedirect.status, otherRedirect.body], [400, { detail: 'Invalid OAuth state', code: 'invalid_oauth_state' }]);

      // Ten minutes to come back.
      const late = await providerSignIn(t, account);
      t.clock.advanceSeconds(10 * 60 + 1);
      const expired = await t.api.post('/auth/google/callback', late);
      assert.deepEqual([expired.status, expired.body], [400, { detail: 'Invalid OAuth state', code: 'invalid_oauth_state' }]);
    });

    it('links an existing user by a verified email and takes over an unverified registration', async () => {
      const squatter = await registerAndSignIn(t.api);
      const account = newAccount(google, { email: squatter.email.toUpperCase(), email_verified: true });
      const { response } = await oauthSignIn(t, account);
      assert.equal(response.status, 200, JSON.stringify(response.body));
      const me = await t.api.get('/auth/me', response.body.access_token);
      assert.equal(me.body.id, squatter.id);
      assert.equal(me.body.has_password, false);
      assert.ok(me.body.email_verified_at);
      // Whoever registered the address first is signed out and can no longer use the password.
      const oldRefresh = await t.api.post('/auth/refresh', { refresh_token: squatter.refreshToken });
      assert.equal(oldRefresh.status, 401);
      assert.equal((await t.api.get('/auth/me', squatter.accessToken)).status, 401);
      const login = await t.api.post('/auth/login/json', { email: squatter.email, password: PASSWORD });
      assert.deepEqual([login.status, login.body], [400, { detail: { error: 'use_oauth_provider', providers: ['google'] }, code: 'use_oauth_provider' }]);
      const actions = await auditActions(t, squatter.id);
      assert.deepEqual(actions.slice(0, 4), ['auth.register', 'auth.login', 'auth.oauth_link', 'auth.oauth_login']);
    });

    it('links a user whose email was verified without touching their password', async () => {
      const owner = await registerAndSignIn(t.api);
      await t.app.ctx.db.updateTable('users').set({ email_verified_at: new Date() }).where('id', '=', owner.id).execute();
      const { response } = await oauthSignIn(t, newAccount(google, { email: owner.email }));
      assert.equal(response.status, 200, JSON.stringify(response.body));
      assert.equal((await t.api.get('/auth/me', response.body.access_token)).body.has_password, true);
      assert.equal((await t.api.post('/auth/refresh', { refresh_token: owner.refreshToken })).status, 200);
    });

    it('refuses to link when the provider does not vouch for the email (409)', async () => {
      const owner = await registerAndSignIn(t.api);
      const account = newAccount(google, { email: owner.email, email_verified: false });
      const { response } = await oauthSignIn(t, account);
      assert.equal(response.status, 409);
      assert.deepEqual(response.body, { detail: { error: 'account_exists_unverified_email' }, code: 'account_exists_unverified_email' });
      const identities = await t.app.ctx.db.selectFrom('oauth_identities').select('id').where('subject', '=', account.sub).execute();
      assert.equal(identities.length, 0);
      assert.equal((await t.api.post('/auth/refresh', { refresh_token: owner.refreshToken })).status, 200);
    });

    it('tells a passwordless user to use their provider for password login and email change', async () => {
      const account = newAccount(google);
      const { response } = await oauthSignIn(t, account);
      const login = await t.api.post('/auth/login/json', { email: account.email, password: PASSWORD });
      assert.deepEqual([login.status, login.body], [400, { detail: { error: 'use_oauth_provider', providers: ['google'] }, code: 'use_oauth_provider' }]);
      const form = await t.api.request('POST', '/auth/login', { form: { username: account.email!, password: PASSWORD } });
      assert.equal(form.status, 400);
      const change = await t.api.patch('/auth/me', { email: uniqueEmail(), current_password: PASSWORD }, response.body.access_token);
      assert.deepEqual([change.status, change.body], [400, { detail: { error: 'use_oauth_provider', providers: ['google'] }, code: 'use_oauth_provider' }]);
      const rename = await t.api.patch('/auth/me', { name: 'Renamed' }, response.body.access_token);
      assert.equal(rename.status, 200);
    });

    it('verifies the ID token: nonce, audience, issuer, expiry and signature', async () => {
      const account = newAccount(google);
      const good = (nonce: string) => ({ iss: google.issuer, aud: 'keyhold-google', sub: account.sub, nonce, email: account.email, email_verified: true });
      // The control: a correct token made the same way is accepted.
      assert.equal((await callbackWithIdToken(t, google, 'google', good)).status, 200);

      const someoneElse = newAccount(google);
      const bad = (nonce: string) => ({ ...good(nonce), sub: someoneElse.sub, email: someoneElse.email });
      assertSignInFailed(await callbackWithIdToken(t, google, 'google', (n) => ({ ...bad(n), nonce: 'another-flows-nonce' })));
      assertSignInFailed(await callbackWithIdToken(t, google, 'google', (n) => ({ ...bad(n), nonce: undefined })));
      assertSignInFailed(await callbackWithIdToken(t, google, 'google', (n) => ({ ...bad(n), aud: 'another-client' })));
      assertSignInFailed(await callbackWithIdToken(t, google, 'google', (n) => ({ ...bad(n), iss: acme.issuer })));
      const past = Math.floor(Date.now() / 1000) - 3600;
      assertSignInFailed(await callbackWithIdToken(t, google, 'google', (n) => ({ ...bad(n), iat: past - 60, exp: past })));
      const { privateKey: forgedKey } = await generateKeyPair('RS256');
      assertSignInFailed(await callbackWithIdToken(t, google, 'google', bad, forgedKey));
      assert.equal((await usersWithEmail(t, someoneElse.email!)).length, 0);
    });

    it('fails on a garbage code, a provider error, or a wrong or missing iss parameter', async () => {
      const account = newAccount(google);
      assertSignInFailed(await t.api.post('/auth/google/callback', { ...(await providerSignIn(t, account)), code: 'garbage' }));
      google.tokenIntercept = { kind: 'reply', status: 400, body: { error: 'invalid_grant', error_description: 'no' } };
      try {
        assertSignInFailed(await t.api.post('/auth/google/callback', await providerSignIn(t, account)));
      } finally {
        google.tokenIntercept = null;
      }
      assertSignInFailed(await t.api.post('/auth/google/callback', { ...(await providerSignIn(t, account)), iss: 'https://evil.test' }));
      // The provider advertises RFC 9207, so a response without `iss` may be a mix-up attack.
      const { iss: _dropped, ...withoutIss } = await providerSignIn(t, account);
      assertSignInFailed(await t.api.post('/auth/google/callback', withoutIss));
      assert.equal((await usersWithEmail(t, account.email!)).length, 0);
    });

    it('validates the request: missing fields, unlisted redirect URI, unknown provider', async () => {
      const missing = await t.api.post('/auth/google/callback', { redirect_uri: REDIRECT_URI });
      assert.equal(missing.status, 422);
      assert.deepEqual(missing.body.detail[0].loc, ['body', 'code']);
      const noState = await t.api.post('/auth/google/callback', { code: 'x', redirect_uri: REDIRECT_URI });
      assert.equal(noState.status, 422);
      assert.deepEqual(noState.body.detail[0].loc, ['body', 'state']);
      assert.equal((await t.api.get('/auth/google/authorize')).status, 422);

      for (const uri of ['https://evil.test/oauth/callback', `${REDIRECT_URI}/`, `${REDIRECT_URI}?next=/`]) {
        const authorize = await t.api.get(`/auth/google/authorize?redirect_uri=${encodeURIComponent(uri)}`);
        assert.deepEqual([authorize.status, authorize.body], [400, { detail: 'Invalid redirect_uri', code: 'invalid_redirect_uri' }]);
      }
      const callback = await t.api.post('/auth/google/callback', { code: 'x', state: 'y', redirect_uri: 'https://evil.test/oauth/callback' });
      assert.deepEqual([callback.status, callback.body], [400, { detail: 'Invalid redirect_uri', code: 'invalid_redirect_uri' }]);

      const unknown = await t.api.get(`/auth/github/authorize?redirect_uri=${encodeURIComponent(REDIRECT_URI)}`);
      assert.deepEqual([unknown.status, unknown.body], [404, { detail: 'Provider not configured', code: 'provider_not_configured' }]);
      const unknownCallback = await t.api.post('/auth/github/callback', { code: 'x', state: 'y', redirect_uri: REDIRECT_URI });
      assert.deepEqual([unknownCallback.status, unknownCallback.body], [404, { detail: 'Provider not configured', code: 'provider_not_configured' }]);
    });

    it('answers 503 while a provider is unreachable, writes nothing, and retries discovery later', async () => {
      const offline = await t.api.get(`/auth/offline/authorize?redirect_uri=${encodeURIComponent(REDIRECT_URI)}`);
      assert.deepEqual([offline.status, offline.body], [503, { detail: 'OAuth provider unavailable', code: 'oauth_provider_unavailable' }]);

      flaky.down = true;
      const down = await t.api.get(`/auth/flaky/authorize?redirect_uri=${encodeURIComponent(REDIRECT_URI)}`);
      assert.equal(down.status, 503);
      flaky.down = false;
      // A failed discovery is remembered briefly, not forever.
      assert.equal((await t.api.get(`/auth/flaky/authorize?redirect_uri=${encodeURIComponent(REDIRECT_URI)}`)).status, 503);
      t.clock.advanceSeconds(11);
      assert.equal((await t.api.get(`/auth/flaky/authorize?redirect_uri=${encodeURIComponent(REDIRECT_URI)}`)).status, 200);

      // The token endpoint goes away (connection cut) or fails (500) during the exchange.
      const account = newAccount(google);
      for (const intercept of [{ kind: 'drop' } as const, { kind: 'reply', status: 500, body: { error: 'server_error' } } as const]) {
        const body = await providerSignIn(t, account);
        google.tokenIntercept = intercept;
        try {
          const response = await t.api.post('/auth/google/callback', body);
          assert.deepEqual([response.status, response.body], [503, { detail: 'OAuth provider unavailable', code: 'oauth_provider_unavailable' }]);
        } finally {
          google.tokenIntercept = null;
        }
      }
      assert.equal((await usersWithEmail(t, account.email!)).length, 0);
      assert.equal((await oauthSignIn(t, account)).response.status, 200);
    });

    it('signs in with Microsoft through the multi-tenant {tenantid} issuer', async () => {
      // Microsoft does not assert email_verified: a new user's address stays unverified and
      // gets a verification email, like a password registration.
      const account = newAccount(microsoft, { tid: TENANT, email_verified: undefined });
      const { response } = await oauthSignIn(t, account, { provider: 'microsoft' });
      assert.equal(response.status, 200, JSON.stringify(response.body));
      const me = await t.api.get('/auth/me', response.body.access_token);
      assert.equal(me.body.email, account.email);
      assert.equal(me.body.email_verified_at, null);
      const mail = await queuedEmails(t.app.ctx.db, { to: account.email! });
      assert.equal(mail.length, 1);

      // A user of another tenant: the issuer follows the token's own `tid`.
      const guest = newAccount(microsoft, { tid: OTHER_TENANT });
      const token = (tid: string, iss: string) => (nonce: string) =>
        ({ iss, tid, aud: 'keyhold-microsoft', sub: guest.sub, nonce, email: guest.email });
      assert.equal((await callbackWithIdToken(t, microsoft, 'microsoft', token(OTHER_TENANT, `${ENTRA}/${OTHER_TENANT}/v2.0`))).status, 200);
      // An issuer that does not match the token's tenant, or no tenant at all, is refused.
      assertSignInFailed(await callbackWithIdToken(t, microsoft, 'microsoft', token(OTHER_TENANT, `${ENTRA}/${TENANT}/v2.0`)));
      const impostor = (nonce: string) => ({ ...token(TENANT, `${ENTRA}/{tenantid}/v2.0`)(nonce), tid: undefined });
      assertSignInFailed(await callbackWithIdToken(t, microsoft, 'microsoft', impostor));

      // An existing address is not linked on Microsoft's unverified word.
      const owner = await registerAndSignIn(t.api);
      const claimer = newAccount(microsoft, { tid: TENANT, email: owner.email, email_verified: undefined });
      const refused = await oauthSignIn(t, claimer, { provider: 'microsoft' });
      assert.equal(refused.response.status, 409);
    });

    // nOAuth: an Entra ID tenant admin can set any `email` and `email_verified: true` on their
    // own users, so Microsoft's word about an address must never hand over an account.
    it('never links or verifies by a Microsoft email, even one claimed verified', async () => {
      const victim = await registerAndSignIn(t.api);
      await t.app.ctx.db.updateTable('users').set({ email_verified_at: new Date() }).where('id', '=', victim.id).execute();
      const attacker = newAccount(microsoft, { tid: TENANT, email: victim.email, email_verified: true });
      const { response } = await oauthSignIn(t, attacker, { provider: 'microsoft' });
      assert.deepEqual([response.status, response.body], [409, { detail: { error: 'account_exists_unverified_email' }, code: 'account_exists_unverified_email' }]);
      // The same through a hand-made ID token that asserts the claim as plainly as possible.
      const forgedClaim = (nonce: string) =>
        ({ iss: `${ENTRA}/${TENANT}/v2.0`, tid: TENANT, aud: 'keyhold-microsoft', sub: attacker.sub, nonce, email: victim.email, email_verified: true });
      assert.equal((await callbackWithIdToken(t, microsoft, 'microsoft', forgedClaim)).status, 409);
      const identities = await t.app.ctx.db.selectFrom('oauth_identities').select('id').where('user_id', '=', victim.id).execute();
      assert.equal(identities.length, 0);
      assert.equal((await t.api.post('/auth/login/json', { email: victim.email, password: PASSWORD })).status, 200, 'password kept');
      assert.equal((await t.api.post('/auth/refresh', { refresh_token: victim.refreshToken })).status, 200, 'sessions kept');

      // An unverified registration is not reclaimed either: its password and sessions stay.
      const unverified = await registerAndSignIn(t.api);
      const claimer = newAccount(microsoft, { tid: TENANT, email: unverified.email, email_verified: true });
      assert.equal((await oauthSignIn(t, claimer, { provider: 'microsoft' })).response.status, 409);
      assert.equal((await t.api.post('/auth/refresh', { refresh_token: unverified.refreshToken })).status, 200);

      // A new Microsoft user starts unverified whatever the token says, and is sent the email.
      const newcomer = newAccount(microsoft, { tid: TENANT, email_verified: true });
      const signedUp = await oauthSignIn(t, newcomer, { provider: 'microsoft' });
      assert.equal(signedUp.response.status, 200, JSON.stringify(signedUp.response.body));
      assert.equal((await t.api.get('/auth/me', signedUp.response.body.access_token)).body.email_verified_at, null);
      const mail = await queuedEmails(t.app.ctx.db, { to: newcomer.email! });
      assert.equal(mail.length, 1);
    });

    it('keeps a provider-supplied name to one line without control or bidi characters', async () => {
      const account = newAccount(google, { name: 'Acme\r\n\r\nSECURITY ALERT:\u202e visit http://evil.example' });
      const { response } = await oauthSignIn(t, account);
      assert.equal(response.status, 200, JSON.stringify(response.body));
      const me = await t.api.get('/auth/me', response.body.access_token);
      assert.equal(me.body.name, 'Acme SECURITY ALERT: visit http://evil.example');
    });

    it('trusts a generic provider for email only with OIDC_<NAME>_TRUST_EMAIL=true', async () => {
      const owner = await registerAndSignIn(t.api);
      await t.app.ctx.db.updateTable('users').set({ email_verified_at: new Date() }).where('id', '=', owner.id).execute();
      const claimer = newAccount(plain, { email: owner.email, email_verified: true });
      const refused = await oauthSignIn(t, claimer, { provider: 'plain' });
      assert.deepEqual([refused.response.status, refused.response.body], [409, { detail: { error: 'account_exists_unverified_email' }, code: 'account_exists_unverified_email' }]);
      assert.equal((await t.api.post('/auth/login/json', { email: owner.email, password: PASSWORD })).status, 200);

      const newcomer = newAccount(plain, { email_verified: true });
      const signedUp = await oauthSignIn(t, newcomer, { provider: 'plain' });
      assert.equal(signedUp.response.status, 200, JSON.stringify(signedUp.response.body));
      assert.equal((await t.api.get('/auth/me', signedUp.response.body.access_token)).body.email_verified_at, null);
      const audit = await t.app.ctx.db.selectFrom('audit_logs').select('details').where('action', '=', 'auth.oauth_register')
        .where('user_id', '=', (await usersWithEmail(t, newcomer.email!))[0]!.id).executeTakeFirstOrThrow();
      assert.equal(audit.details.email_verified, false);

      // The trusted generic provider (acme) links the same kind of claim.
      const linked = await oauthSignIn(t, newAccount(acme, { email: owner.email, email_verified: true }), { provider: 'acme' });
      assert.equal(linked.response.status, 200, JSON.stringify(linked.response.body));
      assert.equal((await t.api.get('/auth/me', linked.response.body.access_token)).body.id, owner.id);
    });

    it('reads the email from UserInfo when the ID token has none (generic provider)', async () => {
      const account = newAccount(acme);
      const { response } = await oauthSignIn(t, account, { provider: 'acme' });
      assert.equal(response.status, 200, JSON.stringify(response.body));
      const me = await t.api.get('/auth/me', response.body.access_token);
      assert.equal(me.body.email, account.email);
      assert.ok(me.body.email_verified_at);
      // Same person at another provider: a separate identity, linked by the verified email.
      const viaGoogle = await oauthSignIn(t, newAccount(google, { email: account.email }));
      assert.equal((await t.api.get('/auth/me', viaGoogle.response.body.access_token)).body.id, me.body.id);
    });

    it('refuses an inactive user', async () => {
      const account = newAccount(google);
      const { response } = await oauthSignIn(t, account);
      const me = await t.api.get('/auth/me', response.body.access_token);
      await t.app.ctx.db.updateTable('users').set({ is_active: false }).where('id', '=', me.body.id).execute();
      const again = await oauthSignIn(t, account);
      assert.deepEqual([again.response.status, again.response.body], [403, { detail: 'Inactive user', code: 'inactive_user' }]);
    });

    it('survives two callbacks racing to create the same identity', async () => {
      const account = newAccount(google);
      const bodies = [await providerSignIn(t, account), await providerSignIn(t, account)];
      const responses = await Promise.all(bodies.map((body) => t.api.post('/auth/google/callback', body)));
      assert.deepEqual(responses.map((r) => r.status), [200, 200], JSON.stringify(responses.map((r) => r.body)));
      const users = await usersWithEmail(t, account.email!);
      assert.equal(users.length, 1);
      const identities = await t.app.ctx.db.selectFrom('oauth_identities').select('user_id').where('subject', '=', account.sub).execute();
      assert.deepEqual(identities, [{ user_id: users[0]!.id }]);
    });

    it('a registration that commits between the look-up of the email and the insert: signs in, not "Email already registered"', { skip: kind === 'postgres' ? false : 'needs a second connection (PostgreSQL)' }, async () => {
      const email = uniqueEmail('interleaved');
      // Right after the sign-in's first look-up of the email (none yet), a password
      // registration of it commits on another connection: the moment a racing callback can hit.
      let raced = false;
      const emailLookups = new Set<string>();
      const racer: KyselyPlugin = {
        transformQuery(args) {
          // findUserByEmail: the users query on lower(email).
          if (JSON.stringify(args.node).includes('lower(email)')) emailLookups.add(args.queryId.queryId);
          return args.node;
        },
        async transformResult(args) {
          if (!raced && emailLookups.has(args.queryId.queryId) && args.result.rows.length === 0) {
            raced = true;
            assert.equal((await t.api.post('/auth/register', { email, password: PASSWORD, name: 'First' })).status, 201);
          }
          return args.result;
        },
      };
      const ctx = { ...t.app.ctx, db: t.app.ctx.db.withPlugin(racer) };
      const identity = { provider: 'google', subject: `sub-${email}`, email, emailVerified: true, name: 'Second' };
      const result = await signInWithIdentity(ctx, { identity, invites: {}, meta: { ip: '127.0.0.1', userAgent: null } });
      assert.ok(raced, 'the registration went in between');
      assert.ok('access_token' in result, JSON.stringify(result));
      const users = await usersWithEmail(t, email);
      assert.equal(users.length, 1, 'one user: the provider identity was linked to it');
    });

    describe('sign-up behind invites', () => {
      let gated: TestApp;
      before(async () => {
        // A second app on the same database (app start-up is the slow part of these tests).
        const database = { db: t.app.ctx.db, kind: t.app.ctx.config.databaseUrl ? 'postgres' as const : 'embedded' as const, ping: async () => {}, close: async () => {} };
        gated = await startTestApp(kind, {
          env: { ...providerEnv, REQUIRE_INVITE_CODE: 'true', SELF_SERVE_ENABLED: 'false' },
          database: t.database,
          sharedDatabase: database,
        });
      });
      after(() => gated.close());

      it('needs an invite code to register, not to sign in again', async () => {
        const account = newAccount(google);
        const without = await oauthSignIn(gated, account);
        assert.deepEqual([without.response.status, without.response.body], [400, { detail: 'Invite code is required', code: 'invite_code_required' }]);
        const invalid = await oauthSignIn(gated, account, { extra: { invite_code: 'NOPE' } });
        assert.deepEqual([invalid.response.status, invalid.response.body], [400, { detail: 'Invalid invite code', code: 'invalid_invite_code' }]);
        assert.equal((await usersWithEmail(gated, account.email!)).length, 0);
        assert.equal((await gated.app.ctx.db.selectFrom('oauth_identities').select('id').where('subject', '=', account.sub).execute()).length, 0);

        const code = `OAUTH${randomBytes(4).toString('hex').toUpperCase()}`;
        await gated.app.ctx.db.insertInto('invite_codes').values({ code, assigned_plan: 'team' }).execute();
        const invited = await oauthSignIn(gated, account, { extra: { invite_code: code.toLowerCase() } });
        assert.equal(invited.response.status, 200, JSON.stringify(invited.response.body));
        const [user] = await usersWithEmail(gated, account.email!);
        const invite = await gated.app.ctx.db.selectFrom('invite_codes').selectAll().where('code', '=', code).executeTakeFirstOrThrow();
        assert.equal(invite.used_by_id, user!.id);
        const subscription = await gated.app.ctx.db.selectFrom('subscriptions').selectAll().where('account_id', '=', user!.account_id).executeTakeFirstOrThrow();
        assert.deepEqual([subscription.plan, subscription.status], ['team', 'active']);

        assert.equal((await oauthSignIn(gated, account)).response.status, 200);
      });

      it('joins the inviting account with an account invite', async () => {
        const [owner] = await gated.app.ctx.db.selectFrom('users').selectAll().limit(1).execute();
        assert.ok(owner, 'an earlier test created a user');
        const account = newAccount(google);
        const code = randomBytes(12).toString('base64url');
        await gated.app.ctx.db.insertInto('account_invites').values({
          account_id: owner.account_id, code, email: account.email!, role: 'member', expires_at: new Date(Date.now() + 86_400_000),
        }).execute();
        // The invite is for the address the provider vouches for, not one the client claims.
        const stranger = newAccount(google);
        const mismatch = await oauthSignIn(gated, stranger, { extra: { account_invite_code: code, email: account.email } });
        assert.deepEqual([mismatch.response.status, mismatch.response.body], [400, { detail: { error: 'invite_email_mismatch' }, code: 'invite_email_mismatch' }]);

        const { response } = await oauthSignIn(gated, account, { extra: { account_invite_code: code } });
        assert.equal(response.status, 200, JSON.stringify(response.body));
        const me = await gated.api.get('/auth/me', response.body.access_token);
        assert.deepEqual([me.body.account_id, me.body.account_role], [owner.account_id, 'member']);
      });
    });
  });
}

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');
