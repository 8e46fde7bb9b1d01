// The account reclaim (issue 24, finding 1) against a real OpenID provider standing in for
// Google: someone registers the owner's address, never verifies it, and plants every factor and
// credential they can (password, sessions, a passkey, TOTP with its recovery codes, a pending
// MFA challenge, another provider's identity). When the owner signs in with Google, every one of
// them goes in the reclaim's transaction, and its audit row says what went. Also the rule a
// broken copy of code-exchange.ts got past: an ID token without `email_verified`, even from a
// provider trusted for email, neither counts as verified nor links an existing user.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestApp } from './helpers/app.js';
import { SoftwareAuthenticator } from './helpers/authenticator.js';
import { FakeClock } from './helpers/clock.js';
import { DATABASE_KINDS } from './helpers/database.js';
import { PASSWORD, registerAndSignIn, uniqueEmail } from './helpers/fixtures.js';
import { codeAt, enrolTotp, passwordFirstFactor } from './helpers/mfa.js';
import { signInAtProvider, TestOpenIdServer, type TestAccount, type TestIssuer } from './helpers/oidc-provider.js';

const REDIRECT_URI = 'https://app.test/oauth/callback';
const ORIGIN = 'http://frontend.test';

let idp: TestOpenIdServer;
let google: TestIssuer;
let providerEnv: Record<string, string>;
let untrust: () => void;

before(async () => {
  idp = await TestOpenIdServer.start();
  google = await idp.addIssuer({ path: '/google', clients: [{ clientId: 'keyhold-google', clientSecret: 'google-secret' }], redirectUris: [REDIRECT_URI] });
  untrust = idp.trustTestServer();
  providerEnv = {
    GOOGLE_CLIENT_ID: 'keyhold-google',
    GOOGLE_CLIENT_SECRET: 'google-secret',
    GOOGLE_ISSUER: google.issuer,
    OAUTH_REDIRECT_URIS: REDIRECT_URI,
  };
});

after(async () => {
  untrust?.();
  await idp?.close();
});

const googleAccount = (overrides: Partial<TestAccount> = {}): TestAccount =>
  google.addAccount({ sub: `sub-${randomBytes(6).toString('hex')}`, email: uniqueEmail('owner'), email_verified: true, name: 'Olivia Owner', ...overrides });

for (const kind of DATABASE_KINDS) {
  describe(`account reclaim (${kind})`, () => {
    let t: TestApp;
    const clock = new FakeClock();
    before(async () => {
      t = await startTestApp(kind, { env: providerEnv, clock });
    });
    after(() => t.close());
    const db = () => t.app.ctx.db;

    async function authorize() {
      const response = await t.api.get(`/auth/google/authorize?redirect_uri=${encodeURIComponent(REDIRECT_URI)}`);
      assert.equal(response.status, 200, JSON.stringify(response.body));
      return response.body as { authorization_url: string; state: string };
    }

    async function googleSignIn(account: TestAccount) {
      const { authorization_url, state } = await authorize();
      const params = await signInAtProvider(authorization_url, account.sub, REDIRECT_URI);
      return t.api.post('/auth/google/callback', { code: params.get('code'), state, redirect_uri: REDIRECT_URI, iss: params.get('iss') });
    }

    /** Google's token endpoint answers with an ID token made by the test (a provider that leaves a claim out). */
    async function callbackWithClaims(claims: (nonce: string) => Record<string, unknown>) {
      const { authorization_url, state } = await authorize();
      const nonce = new URL(authorization_url).searchParams.get('nonce')!;
      google.tokenIntercept = { kind: 'reply', status: 200, body: { access_token: 'opaque', token_type: 'Bearer', expires_in: 60, id_token: await google.signIdToken(claims(nonce)) } };
      try {
        return await t.api.post('/auth/google/callback', { code: 'code-from-provider', state, redirect_uri: REDIRECT_URI, iss: google.issuer });
      } finally {
        google.tokenIntercept = null;
      }
    }

    async function passkeyLogin(authenticator: SoftwareAuthenticator) {
      const options = await t.api.post('/auth/passkeys/login/options');
      return t.api.post('/auth/passkeys/login/verify', { challenge_id: options.body.challenge_id, response: authenticator.assert(options.body.options) });
    }

    const count = async (table: 'passkeys' | 'user_mfa' | 'mfa_recovery_codes', userId: string) =>
      Number((await db().selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).where('user_id', '=', userId).executeTakeFirstOrThrow()).n);

    it('finding 1: a reclaim removes every factor and credential the squatter planted, and its audit row lists them', async () => {
      const owner = googleAccount();
      // The squatter registers the owner's address (never verified) and plants what they can.
      const squatter = await registerAndSignIn(t.api, { email: owner.email });
      const authenticator = new SoftwareAuthenticator(ORIGIN);
      const options = await t.api.post('/auth/passkeys/register/options', {}, squatter.accessToken);
      const registered = await t.api.post('/auth/passkeys/register/verify', { response: authenticator.register(options.body) }, squatter.accessToken);
      assert.equal(registered.status, 201, JSON.stringify(registered.body));
      const { secret, recoveryCodes } = await enrolTotp(t.api, clock, squatter.accessToken);
      const pendingMfaToken = await passwordFirstFactor(t.api, squatter.email, PASSWORD);
      await db().insertInto('oauth_identities').values({ user_id: squatter.id, provider: 'github', subject: 'squatter-42', email: owner.email, created_at: clock.now() }).execute();
      assert.equal((await passkeyLogin(authenticator)).status, 200, 'the planted passkey signs in before the reclaim');

      // The owner signs in with Google: the account is theirs, with nothing of the squatter's.
      const reclaimed = await googleSignIn(owner);
      assert.equal(reclaimed.status, 200, JSON.stringify(reclaimed.body));
      assert.ok(reclaimed.body.access_token, 'the owner gets a session, not the squatter\'s second step');
      const me = await t.api.get('/auth/me', reclaimed.body.access_token);
      assert.deepEqual([me.body.id, me.body.has_password, me.body.mfa_enabled], [squatter.id, false, false]);
      assert.ok(me.body.email_verified_at);

      assert.equal((await passkeyLogin(authenticator)).status, 401, 'the planted passkey no longer signs in');
      const pending = await t.api.post('/auth/mfa/verify', { mfa_token: pendingMfaToken, code: codeAt(secret, clock) });
      assert.deepEqual([pending.status, pending.body], [401, { detail: 'Invalid or expired MFA token', code: 'invalid_or_expired_mfa_token' }]);
      assert.equal((await t.api.post('/auth/login/json', { email: owner.email, password: PASSWORD })).status, 400, 'no password: use the provider');
      assert.equal((await t.api.get('/auth/me', squatter.accessToken)).status, 401);
      assert.equal((await t.api.post('/auth/refresh', { refresh_token: squatter.refreshToken })).status, 401);
      assert.deepEqual([await count('passkeys', squatter.id), await count('user_mfa', squatter.id), await count('mfa_recovery_codes', squatter.id)], [0, 0, 0]);
      const identities = await db().selectFrom('oauth_identities').select(['provider', 'subject']).where('user_id', '=', squatter.id).execute();
      assert.deepEqual(identities, [{ provider: 'google', subject: owner.sub }]);
      // A recovery code of the squatter's opens nothing either.
      const next = await googleSignIn(owner);
      assert.equal(next.status, 200);
      assert.equal((await t.api.post('/auth/mfa/totp/disable', { code: recoveryCodes[0] }, next.body.access_token)).status, 400);

      const audit = await db().selectFrom('audit_logs').select('details').where('action', '=', 'auth.oauth_link').where('user_id', '=', squatter.id).executeTakeFirstOrThrow();
      assert.equal(audit.details.reclaimed_unverified_account, true);
      assert.deepEqual(audit.details.removed, {
        password: true,
        sessions: 2,
        passkeys: 1,
        totp: true,
        recovery_codes: 10,
        mfa_challenges: 1,
        passkey_challenges: 0,
        identities: ['github'],
      });
      const events = await db().selectFrom('jobs').select('payload').where('kind', '=', 'event').execute();
      assert.ok(events.some((job) => (job.payload as { type: string; data: { id?: string } }).type === 'user.mfa_disabled' && (job.payload as { data: { id?: string } }).data.id === squatter.id));
    });

    it('an ID token without email_verified, even from Google, is not a verified email and links no existing user', async () => {
      const claims = (email: string, sub: string) => (nonce: string) =>
        ({ iss: google.issuer, aud: 'keyhold-google', sub, nonce, email, name: 'No Claim' });
      // A new user starts unverified.
      const newcomer = uniqueEmail('no-claim');
      const signedUp = await callbackWithClaims(claims(newcomer, `sub-${randomBytes(6).toString('hex')}`));
      assert.equal(signedUp.status, 200, JSON.stringify(signedUp.body));
      assert.equal((await t.api.get('/auth/me', signedUp.body.access_token)).body.email_verified_at, null);
      // An existing user (verified or not) is not linked on it.
      const existing = await registerAndSignIn(t.api);
      const refused = await callbackWithClaims(claims(existing.email, `sub-${randomBytes(6).toString('hex')}`));
      assert.deepEqual([refused.status, refused.body], [409, { detail: { error: 'account_exists_unverified_email' }, code: 'account_exists_unverified_email' }]);
      assert.equal((await t.api.post('/auth/refresh', { refresh_token: existing.refreshToken })).status, 200, 'nothing reclaimed');
      // The same tokens with email_verified: true do both (the control).
      const verified = (email: string) => (nonce: string) => ({ ...claims(email, `sub-${randomBytes(6).toString('hex')}`)(nonce), email_verified: true });
      assert.equal((await callbackWithClaims(verified(existing.email))).status, 200);
    });
  });
}
