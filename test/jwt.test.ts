import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { SignJWT, generateKeyPair, exportJWK, decodeJwt, base64url } from 'jose';
import { startTestApp, type TestApp } from './helpers/app.js';
import { registerAndSignIn, type SignedInUser } from './helpers/fixtures.js';

type SigningKey = Parameters<SignJWT['sign']>[0];

const SECRET = 'jwt-hygiene-test-secret-0123456789abcdef';
const key = new TextEncoder().encode(SECRET);

describe('JWT hygiene', () => {
  let t: TestApp;
  let user: SignedInUser;
  let sid: string;
  before(async () => {
    t = await startTestApp('pglite', { env: { JWT_SECRET: SECRET } });
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
});
