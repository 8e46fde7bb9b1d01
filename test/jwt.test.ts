import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { SignJWT, generateKeyPair, exportJWK, decodeJwt, base64url } from 'jose';
import { startTestApp, type TestApp } from './helpers/app.js';
import { DATABASE_KINDS } from './helpers/database.js';
import { registerAndSignIn, type SignedInUser } from './helpers/fixtures.js';

type SigningKey = Parameters<SignJWT['sign']>[0];

const SECRET = 'jwt-hygiene-test-secret-0123456789abcdef';
const key = new TextEncoder().encode(SECRET);

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Spellings of the same signed token that lenient base64 decoders (jose's) read identically. */
function otherSpellings(token: string): Record<string, string> {
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const last = signature.at(-1)!;
  // An HS256 signature is 32 bytes in 43 characters: the last one carries 2 unused bits.
  const unusedBitFlipped = `${signature.slice(0, -1)}${BASE64URL[BASE64URL.indexOf(last) ^ 1]}`;
  return {
    'padded signature': `${header}.${payload}.${signature}=`,
    'padded payload': `${header}.${payload}${'='.repeat((4 - (payload.length % 4)) % 4 || 1)}.${signature}`,
    'unused bits set': `${header}.${payload}.${unusedBitFlipped}`,
    'standard alphabet': `${header}.${payload}.${signature.replace(/-/g, '+').replace(/_/g, '/')}`,
  };
}

for (const kind of DATABASE_KINDS) describe(`JWT hygiene (${kind})`, () => {
  let t: TestApp;
  let user: SignedInUser;
  let sid: string;
  before(async () => {
    t = await startTestApp(kind, { env: { JWT_SECRET: SECRET } });
    user = await registerAndSignIn(t.api);
    sid = decodeJwt(user.accessToken).sid as string;
  });
  after(() => t.close());

  const nowSeconds = () => Math.floor(t.clock.now().getTime() / 1000);
  const claims = (overrides: Record<string, unknown> = {}) => ({
    sub: user.id, sid, type: 'access', jti: randomUUID(), iss: 'keyhold', aud: 'keyhold',
    iat: nowSeconds(), exp: nowSeconds() + 600, ...overrides,
  });
  const forge = (header: Record<string, unknown>, payload: Record<string, unknown>, signingKey: SigningKey = key) => {
    const { alg, ...rest } = header;
    return new SignJWT(payload).setProtectedHeader({ alg: String(alg), ...rest }).sign(signingKey);
  };
  const meWith = async (token: string) => (await t.api.get('/auth/me', token)).status;

  it('accepts a well-formed access token (the control)', async () => {
    assert.equal(await meWith(await forge({ alg: 'HS256', typ: 'at+jwt' }, claims())), 200);
  });

  it('refuses alg none in any spelling', async () => {
    for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
      const header = base64url.encode(JSON.stringify({ alg, typ: 'at+jwt' }));
      const body = base64url.encode(JSON.stringify(claims()));
      assert.equal(await meWith(`${header}.${body}.`), 401, alg);
    }
  });

  it('accepts one algorithm only: no HS384, no RS256 (key confusion)', async () => {
    assert.equal(await meWith(await forge({ alg: 'HS384', typ: 'at+jwt' }, claims())), 401);
    const { privateKey, publicKey } = await generateKeyPair('RS256');
    assert.equal(await meWith(await forge({ alg: 'RS256', typ: 'at+jwt' }, claims(), privateKey as SigningKey)), 401);
    const jwk = await exportJWK(publicKey);
    assert.equal(await meWith(await forge({ alg: 'RS256', typ: 'at+jwt', jwk }, claims(), privateKey as SigningKey)), 401);
  });

  it('refuses key-selecting headers even on a correctly signed token', async () => {
    assert.equal(await meWith(await forge({ alg: 'HS256', typ: 'at+jwt', jku: 'https://evil.example/jwks' }, claims())), 401);
    assert.equal(await meWith(await forge({ alg: 'HS256', typ: 'at+jwt', kid: 'unknown' }, claims())), 401);
    assert.equal(await meWith(await forge({ alg: 'HS256', typ: 'at+jwt', x5u: 'https://evil.example/cert' }, claims())), 401);
  });

  it('refuses missing or wrong registered claims and future issue times', async () => {
    const without = (name: string) => {
      const c: Record<string, unknown> = claims();
      delete c[name];
      return c;
    };
    assert.equal(await meWith(await forge({ alg: 'HS256', typ: 'at+jwt' }, without('exp'))), 401);
    assert.equal(await meWith(await forge({ alg: 'HS256', typ: 'at+jwt' }, without('aud'))), 401);
    assert.equal(await meWith(await forge({ alg: 'HS256', typ: 'at+jwt' }, without('jti'))), 401);
    assert.equal(await meWith(await forge({ alg: 'HS256', typ: 'at+jwt' }, claims({ iss: 'someone-else' }))), 401);
    assert.equal(await meWith(await forge({ alg: 'HS256', typ: 'at+jwt' }, claims({ aud: 'another-api' }))), 401);
    assert.equal(await meWith(await forge({ alg: 'HS256', typ: 'at+jwt' }, claims({ exp: nowSeconds() - 1 }))), 401);
    assert.equal(await meWith(await forge({ alg: 'HS256', typ: 'at+jwt' }, claims({ iat: nowSeconds() + 120 }))), 401);
    assert.equal(await meWith(await forge({ alg: 'HS256', typ: 'at+jwt' }, claims({ iat: nowSeconds() + 30 }))), 200, 'small skew is tolerated');
  });

  it('keeps token kinds apart by typ header and type claim', async () => {
    assert.equal(await meWith(await forge({ alg: 'HS256', typ: 'rt+jwt' }, claims())), 401);
    assert.equal(await meWith(await forge({ alg: 'HS256', typ: 'at+jwt' }, claims({ type: 'refresh' }))), 401);
    assert.equal(await meWith(await forge({ alg: 'HS256' }, claims())), 401);
    assert.equal(await meWith(await forge({ alg: 'HS256', typ: 'at+jwt' }, claims(), new TextEncoder().encode('another-secret-of-32-characters!!'))), 401);
  });

  // Claim shapes are part of verification: `sub` and `sid` reach uuid columns, where another
  // shape made PostgreSQL fail the query (a 500) for a correctly signed token.
  const ODD_CLAIMS: Array<[string, Record<string, unknown>]> = [
    ['sub not a uuid', { sub: 'not-a-uuid' }],
    ['sub a number', { sub: 42 }],
    ['sub a urn', { sub: `urn:uuid:${randomUUID()}` }],
    ['sub a uuid with a NUL', { sub: `${randomUUID()}\u0000` }],
    ['sid not a uuid', { sid: 'session-1' }],
    ['sid empty', { sid: '' }],
    ['sid a uuid with a bad digit', { sid: '00000000-0000-0000-0000-00000000000g' }],
    ['jti empty', { jti: '' }],
    ['jti too long', { jti: 'j'.repeat(129) }],
    ['jti with spaces', { jti: 'a b' }],
  ];

  it('refuses access tokens whose sub, sid or jti has another shape: 401, not a 500', async () => {
    for (const [label, overrides] of ODD_CLAIMS) {
      const response = await t.api.get('/auth/me', await forge({ alg: 'HS256', typ: 'at+jwt' }, claims(overrides)));
      assert.deepEqual([response.status, response.body], [401, { detail: 'Could not validate credentials', code: 'not_authenticated' }], label);
    }
  });

  it('refuses refresh tokens whose sub, sid or jti has another shape: 401, not a 500', async () => {
    for (const [label, overrides] of ODD_CLAIMS) {
      const token = await forge({ alg: 'HS256', typ: 'rt+jwt' }, claims({ type: 'refresh', ...overrides }));
      for (const path of ['/auth/refresh', '/auth/logout']) {
        const response = await t.api.post(path, { refresh_token: token });
        assert.deepEqual([response.status, response.body], [401, { detail: 'Invalid refresh token', code: 'invalid_refresh_token' }], `${path}: ${label}`);
      }
    }
  });

  it('accepts one spelling of a token: no padding, no standard-alphabet characters, no stray bits', async () => {
    let token = '';
    // A signature with a '-' or '_' in it, so the standard-alphabet spelling differs.
    while (!/[-_]/.test(token.split('.')[2] ?? '')) token = await forge({ alg: 'HS256', typ: 'at+jwt' }, claims());
    assert.equal(await meWith(token), 200, 'the control');
    for (const [label, spelling] of Object.entries(otherSpellings(token))) {
      assert.notEqual(spelling, token);
      assert.equal(await meWith(spelling), 401, label);
    }
  });
});
