// No sign-in path yields tokens to an MFA-enrolled user without the second factor. The routes
// that answer with a Token are read from the OpenAPI document, so a new one that this test does
// not walk fails it; each is then walked for an enrolled user.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { startTestApp, type TestApp } from './helpers/app.js';
import { SoftwareAuthenticator } from './helpers/authenticator.js';
import { FakeClock } from './helpers/clock.js';
import { PASSWORD, registerAndSignIn, uniqueEmail } from './helpers/fixtures.js';
import { codeAt, enrolTotp } from './helpers/mfa.js';
import { signInAtProvider, TestOpenIdServer, type TestIssuer } from './helpers/oidc-provider.js';

const REDIRECT_URI = 'https://app.test/oauth/callback';
const ORIGIN = 'http://frontend.test';

// Every route whose success reply can be a Token, and how this test walks it.
const WALKED = [
  'POST /api/v1/auth/login',
  'POST /api/v1/auth/login/json',
  'POST /api/v1/auth/{provider}/callback',
  'POST /api/v1/auth/passkeys/login/verify',
  'POST /api/v1/auth/refresh',
  // The second factor itself: it needs a live mfa_token.
  'POST /api/v1/auth/mfa/verify',
];
// Token routes that by contract ask no Keyhold second factor: enterprise SSO, whose identity
// provider owns it (API.md "Enterprise single sign-on"; aal2 only when the provider asserted
// MFA). Tested in test/sso-saml.test.ts.
const EXEMPT = ['POST /api/v1/auth/sso/callback'];

describe('no sign-in path skips the second factor', () => {
  let t: TestApp;
  let idp: TestOpenIdServer;
  let google: TestIssuer;
  let untrust: () => void;
  const clock = new FakeClock();

  before(async () => {
    idp = await TestOpenIdServer.start();
    google = await idp.addIssuer({ path: '/google', clients: [{ clientId: 'keyhold-google', clientSecret: 'google-secret' }], redirectUris: [REDIRECT_URI] });
    untrust = idp.trustTestServer();
    t = await startTestApp('pglite', {
      clock,
      env: { GOOGLE_CLIENT_ID: 'keyhold-google', GOOGLE_CLIENT_SECRET: 'google-secret', GOOGLE_ISSUER: google.issuer, OAUTH_REDIRECT_URIS: REDIRECT_URI },
    });
  });
  after(async () => {
    await t?.close();
    untrust?.();
    await idp?.close();
  });

  const assertNoTokens = (what: string, body: Record<string, unknown>) => {
    assert.equal(body.access_token, undefined, `${what}: no access token`);
    assert.equal(body.refresh_token, undefined, `${what}: no refresh token`);
  };
  const assertChallenge = (what: string, response: { status: number; body: Record<string, unknown> }) => {
    assert.equal(response.status, 200, `${what}: ${JSON.stringify(response.body)}`);
    assertNoTokens(what, response.body);
    assert.equal(response.body.mfa_required, true, what);
    return response.body.mfa_token as string;
  };

  it('the OpenAPI document lists exactly the Token routes walked here', async () => {
    const doc = (await (await fetch(`${t.baseUrl}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { responses?: Record<string, unknown> }>>;
      components: { schemas: Record<string, { title?: string }> };
    };
    const tokenRefs = Object.entries(doc.components.schemas).filter(([, s]) => s.title === 'Token').map(([name]) => `#/components/schemas/${name}`);
    const found: string[] = [];
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(item)) {
        const replies = JSON.stringify(Object.fromEntries(Object.entries(operation.responses ?? {}).filter(([status]) => status.startsWith('2'))));
        if (replies.includes('"access_token"') || tokenRefs.some((ref) => replies.includes(`"${ref}"`))) found.push(`${method.toUpperCase()} ${path}`);
      }
    }
    assert.deepEqual(found.sort(), [...WALKED, ...EXEMPT].sort());
  });

  it('password (form and JSON), OAuth callback, passkey without user verification, refresh, registration', async () => {
    // An OAuth user (registered through the callback) with a password-less account, and a passkey.
    const account = google.addAccount({ sub: `sub-${randomBytes(6).toString('hex')}`, email: uniqueEmail('oauth'), email_verified: true, name: 'Olivia' });
    const oauthCallback = async () => {
      const started = await t.api.get(`/auth/google/authorize?redirect_uri=${encodeURIComponent(REDIRECT_URI)}`);
      const params = await signInAtProvider(started.body.authorization_url, account.sub, REDIRECT_URI);
      const iss = params.get('iss');
      return t.api.post('/auth/google/callback', { code: params.get('code'), state: started.body.state, redirect_uri: REDIRECT_URI, ...(iss ? { iss } : {}) });
    };
    const first = await oauthCallback();
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const oauthSession = first.body;
    const oauthTotp = await enrolTotp(t.api, clock, oauthSession.access_token);
    const mfaToken = assertChallenge('OAuth callback', await oauthCallback());
    const viaOauth = await t.api.post('/auth/mfa/verify', { mfa_token: mfaToken, code: codeAt(oauthTotp.secret, clock) });
    assert.equal(viaOauth.status, 200);
    assert.deepEqual(decodeJwt(viaOauth.body.access_token).amr, ['oauth', 'otp']);

    // A password user, signed in before enrolling (an aal1 session), with a passkey.
    const user = await registerAndSignIn(t.api);
    const authenticator = new SoftwareAuthenticator(ORIGIN);
    const options = await t.api.post('/auth/passkeys/register/options', {}, user.accessToken);
    assert.equal((await t.api.post('/auth/passkeys/register/verify', { response: authenticator.register(options.body) }, user.accessToken)).status, 201);
    const { secret } = await enrolTotp(t.api, clock, user.accessToken);

    assertChallenge('password form', await t.api.request('POST', '/auth/login', { form: { username: user.email, password: PASSWORD } }));
    assertChallenge('password JSON', await t.api.post('/auth/login/json', { email: user.email, password: PASSWORD }));

    const passkeyOptions = await t.api.post('/auth/passkeys/login/options');
    const response = authenticator.assert(passkeyOptions.body.options, { userVerified: false });
    assertChallenge('passkey without user verification', await t.api.post('/auth/passkeys/login/verify', { challenge_id: passkeyOptions.body.challenge_id, response }));

    // Refresh: a session keeps the assurance it began with; it never becomes aal2.
    const refreshed = await t.api.post('/auth/refresh', { refresh_token: user.refreshToken });
    assert.equal(refreshed.status, 200);
    assert.equal(decodeJwt(refreshed.body.access_token).aal, 'aal1');
    const refreshedOauth = await t.api.post('/auth/refresh', { refresh_token: oauthSession.refresh_token });
    assert.equal(decodeJwt(refreshedOauth.body.access_token).aal, 'aal1');

    // Registration never yields tokens (and the enrolled address is taken).
    const register = await t.api.post('/auth/register', { email: user.email, password: PASSWORD, name: 'Again' });
    assert.equal(register.status, 400);
    assertNoTokens('registration', register.body);
    const fresh = await t.api.post('/auth/register', { email: uniqueEmail(), password: PASSWORD, name: 'New' });
    assert.equal(fresh.status, 201);
    assertNoTokens('registration', fresh.body);

    // And the second factor completes each: the code is what gives aal2.
    const token = assertChallenge('password JSON', await t.api.post('/auth/login/json', { email: user.email, password: PASSWORD }));
    const done = await t.api.post('/auth/mfa/verify', { mfa_token: token, code: codeAt(secret, clock) });
    assert.equal(decodeJwt(done.body.access_token).aal, 'aal2');
  });
});
