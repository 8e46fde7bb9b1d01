// Signing keys (modules/keys): tokens verified by another service from the JWKS alone,
// rotation without sign-outs, revocation everywhere within a poll, forgeries refused, and the
// upgrade of a 0.1 (HS256) database.
import assert from 'node:assert/strict';
import { createHmac, createPrivateKey, createPublicKey, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { SignJWT, createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, base64url } from 'jose';
import { loadConfig } from '../src/config.js';
import { readSecret } from '../src/modules/keys/app-secrets.repo.js';
import { listKeys } from '../src/modules/keys/keys.repo.js';
import { maintainSigningKeys, revokeSigningKey, rotateSigningKeys } from '../src/modules/keys/keys.service.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { createTestDatabase, DATABASE_KINDS } from './helpers/database.js';
import { registerAndSignIn, signIn } from './helpers/fixtures.js';
import { waitFor } from './helpers/jobs.js';

const kidOf = (token: string) => decodeProtectedHeader(token).kid;
const meStatus = async (t: TestApp, token: string) => (await t.api.get('/auth/me', token)).status;

/** What a downstream service does: the JWKS URL and the four checks, nothing else. */
async function verifyLikeADownstreamService(t: TestApp, token: string) {
  const jwks = createRemoteJWKSet(new URL(`${t.baseUrl}/.well-known/jwks.json`), { cacheMaxAge: 0, cooldownDuration: 0 });
  return jwtVerify(token, jwks, { issuer: 'keyhold', audience: 'keyhold', typ: 'at+jwt', currentDate: t.clock.now() });
}

/** The private key of a state, as only Keyhold holds it: to forge tokens it would have signed. */
async function privateKeyOf(t: TestApp, state: 'current' | 'next') {
  const row = (await listKeys(t.app.ctx.db)).find((k) => k.state === state)!;
  return { kid: row.kid, alg: row.alg, key: createPrivateKey(t.app.ctx.secrets.open(row.private_key!, `signing-key:${row.kid}`)), publicJwk: row.public_jwk };
}

for (const kind of DATABASE_KINDS) describe(`signing keys (${kind})`, () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp(kind, { env: { PUBLIC_URL: 'https://auth.example.com/' } });
  });
  after(() => t.close());

  it('signs with ES256 by default, a kid in every header, and a token verifies against the JWKS alone', async () => {
    const u = await registerAndSignIn(t.api);
    const header = decodeProtectedHeader(u.accessToken);
    assert.equal(header.alg, 'ES256');
    assert.equal(typeof header.kid, 'string');
    // Refresh tokens, checked by Keyhold alone, are MACed with the key set's refresh key: a kid
    // of its own, never published.
    const refreshHeader = decodeProtectedHeader(u.refreshToken);
    assert.equal(refreshHeader.alg, 'HS256');
    assert.match(String(refreshHeader.kid), /^rt-[\w-]{16}$/);
    const published = (await (await fetch(`${t.baseUrl}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> };
    assert.ok(!published.keys.some((k) => k.kid === refreshHeader.kid));
    const { payload, protectedHeader } = await verifyLikeADownstreamService(t, u.accessToken);
    assert.equal(payload.sub, u.id);
    assert.equal(protectedHeader.typ, 'at+jwt');
    await assert.rejects(verifyLikeADownstreamService(t, u.refreshToken), /alg/, 'a refresh token is not an access token (nor in the JWKS)');
    const jwks = createRemoteJWKSet(new URL(`${t.baseUrl}/.well-known/jwks.json`));
    await assert.rejects(jwtVerify(u.accessToken, jwks, { issuer: 'other', audience: 'keyhold', typ: 'at+jwt', currentDate: t.clock.now() }), /iss/);
    await assert.rejects(jwtVerify(u.accessToken, jwks, { issuer: 'keyhold', audience: 'other', typ: 'at+jwt', currentDate: t.clock.now() }), /aud/);
    const late = new Date(t.clock.now().getTime() + 16 * 60_000);
    await assert.rejects(jwtVerify(u.accessToken, jwks, { issuer: 'keyhold', audience: 'keyhold', typ: 'at+jwt', currentDate: late }), /exp/);
  });

  it('publishes next and current keys, public parts only, cacheable for 5 minutes; and the issuer metadata', async () => {
    const response = await fetch(`${t.baseUrl}/.well-known/jwks.json`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('cache-control'), 'public, max-age=300');
    const { keys } = (await response.json()) as { keys: Array<Record<string, string>> };
    assert.equal(keys.length, 2, 'current and next');
    for (const key of keys) {
      assert.deepEqual(Object.keys(key).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
      assert.deepEqual([key.kty, key.crv, key.alg, key.use], ['EC', 'P-256', 'ES256', 'sig']);
    }
    const metadata = await fetch(`${t.baseUrl}/.well-known/openid-configuration`);
    assert.equal(metadata.headers.get('cache-control'), 'public, max-age=300');
    const body = (await metadata.json()) as Record<string, unknown>;
    assert.equal(body.issuer, 'keyhold');
    assert.equal(body.jwks_uri, 'https://auth.example.com/.well-known/jwks.json');
    const openapi = (await (await fetch(`${t.baseUrl}/openapi.json`)).json()) as { paths: Record<string, { get: { responses: Record<string, unknown> } }> };
    assert.ok(openapi.paths['/.well-known/jwks.json']?.get.responses['200'], 'the JWKS response schema is in the OpenAPI document');
    assert.ok(openapi.paths['/.well-known/openid-configuration']?.get.responses['200']);
  });

  it('refuses a tampered kid, an unknown kid, an HS256 token signed with the public key, and key-carrying headers', async () => {
    const u = await registerAndSignIn(t.api);
    const current = await privateKeyOf(t, 'current');
    const next = await privateKeyOf(t, 'next');
    const claims = decodeJwt(u.accessToken);
    const forge = (header: Record<string, unknown>, key: Parameters<SignJWT['sign']>[0] = current.key) =>
      new SignJWT({ ...claims, jti: randomUUID() }).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', ...header } as never).sign(key);
    assert.equal(await meStatus(t, await forge({ kid: current.kid })), 200, 'the control: signed as Keyhold signs');
    // A token's header rewritten to name the other published key: the signature no longer matches.
    const [, payload, signature] = u.accessToken.split('.');
    const retargeted = `${base64url.encode(JSON.stringify({ alg: 'ES256', kid: next.kid, typ: 'at+jwt' }))}.${payload}.${signature}`;
    assert.equal(await meStatus(t, retargeted), 401, 'tampered kid');
    assert.equal(await meStatus(t, await forge({ kid: 'no-such-key' })), 401, 'unknown kid');
    assert.equal(await meStatus(t, await forge({})), 401, 'no kid at all');
    for (const secret of [JSON.stringify(current.publicJwk), createPublicKey(current.key).export({ format: 'pem', type: 'spki' }).toString()]) {
      for (const header of [{ kid: current.kid }, {}]) {
        const hs = await new SignJWT({ ...claims, jti: randomUUID() }).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', ...header }).sign(new TextEncoder().encode(secret));
        assert.equal(await meStatus(t, hs), 401, `HS256 with the public key, ${JSON.stringify(header)}`);
      }
    }
    for (const header of [{ jwk: current.publicJwk }, { jku: 'https://evil.example/jwks' }, { x5u: 'https://evil.example/cert' }, { x5c: ['MIIB'] }]) {
      assert.equal(await meStatus(t, await forge({ kid: current.kid, ...header })), 401, Object.keys(header)[0]);
    }
  });

  it('keeps every session alive across a rotation, and retires the previous key once its tokens have expired', async () => {
    const u = await registerAndSignIn(t.api);
    const before = await t.api.post('/auth/refresh', { refresh_token: u.refreshToken });
    assert.equal(before.status, 200);
    const oldKid = kidOf(before.body.access_token);
    const rotation = await rotateSigningKeys(t.app.ctx, null);
    assert.equal(rotation.previous, oldKid);
    // This instance (like any other) sees the rotation at its next poll.
    const after = await waitFor('tokens signed by the new key', async () => {
      const r = await t.api.post('/auth/refresh', { refresh_token: (await signIn(t.api, u.email)).refreshToken });
      return kidOf(r.body.access_token) === rotation.current && r;
    });
    assert.equal(after.status, 200);
    assert.equal(await meStatus(t, before.body.access_token), 200, 'an access token of the previous key verifies until it expires');
    await verifyLikeADownstreamService(t, before.body.access_token);
    const refreshed = await t.api.post('/auth/refresh', { refresh_token: before.body.refresh_token });
    assert.equal(refreshed.status, 200, 'a refresh token of the previous key still refreshes');
    assert.equal(kidOf(refreshed.body.access_token), rotation.current);
    const published = async () => ((await (await fetch(`${t.baseUrl}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> }).keys.map((k) => k.kid).sort();
    assert.deepEqual(await published(), [rotation.previous!, rotation.current, rotation.next].sort());
    assert.equal(await maintainSigningKeys(t.app.ctx), false, 'nothing to retire yet');
    t.clock.advanceDays(7);
    assert.equal(await maintainSigningKeys(t.app.ctx), false, 'a refresh token it signed may still be live: 7 days and the margin');
    t.clock.advanceSeconds(61);
    assert.equal(await maintainSigningKeys(t.app.ctx), true);
    assert.deepEqual(await published(), [rotation.current, rotation.next].sort());
  });

  it('refuses a revoked key\'s tokens at once, remembered ones included, and drops it from the JWKS', async () => {
    const current = (await listKeys(t.app.ctx.db)).find((k) => k.state === 'current')!.kid;
    const u = await waitFor('a token of the current key', async () => {
      const user = await registerAndSignIn(t.api);
      return kidOf(user.accessToken) === current && user;
    });
    assert.equal(await meStatus(t, u.accessToken), 200, 'verified, and remembered');
    const revoked = await revokeSigningKey(t.app.ctx, { kid: current, meta: null });
    assert.equal(revoked.was, 'current');
    const { keys } = (await (await fetch(`${t.baseUrl}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> };
    assert.ok(!keys.some((k) => k.kid === current), 'gone from the JWKS at once');
    assert.equal(keys.length, 2, 'the promoted next key and a new next');
    await waitFor('the revocation seen by the key ring', async () => (await meStatus(t, u.accessToken)) === 401);
    // The session's refresh token is MACed by the refresh key, not signed by the revoked key: a
    // stolen signing key forges access tokens, not sessions, so the user is not signed out.
    const refreshed = await t.api.post('/auth/refresh', { refresh_token: u.refreshToken });
    assert.equal(refreshed.status, 200);
    assert.notEqual(kidOf(refreshed.body.access_token), current);
    const fresh = await registerAndSignIn(t.api);
    assert.notEqual(kidOf(fresh.accessToken), current);
    assert.equal(await meStatus(t, fresh.accessToken), 200, 'new sign-ins work at once');
    await assert.rejects(revokeSigningKey(t.app.ctx, { kid: 'no-such-key', meta: null }), /Signing key not found/);
    const audit = await t.app.ctx.db.selectFrom('audit_logs').select('action').where('resource_id', '=', current).execute();
    assert.ok(audit.some((a) => a.action === 'keys.revoked'), 'audited');
  });

  it('rotates by itself every JWT_KEY_ROTATION_DAYS', async () => {
    const { current } = (await rotateSigningKeys(t.app.ctx, null));
    t.clock.advanceDays(89);
    await maintainSigningKeys(t.app.ctx);
    assert.equal((await listKeys(t.app.ctx.db)).find((k) => k.state === 'current')!.kid, current, 'not before 90 days');
    t.clock.advanceDays(1);
    await maintainSigningKeys(t.app.ctx);
    const after = await listKeys(t.app.ctx.db);
    assert.notEqual(after.find((k) => k.state === 'current')!.kid, current);
    assert.equal(after.find((k) => k.kid === current)!.state, 'previous');
  });

  it('still refreshes with a refresh token signed ES256 before the upgrade, across a rotation; the refresh key signs nothing else', async () => {
    const u = await registerAndSignIn(t.api);
    const current = await privateKeyOf(t, 'current');
    // What 0.2 issued for this very session: the same claims, signed by the current ES256 key.
    const before = await new SignJWT(decodeJwt(u.refreshToken)).setProtectedHeader({ alg: 'ES256', kid: current.kid, typ: 'rt+jwt' }).sign(current.key);
    // (The previous test rotated twice in a row: wait until this instance's poll has loaded the key.)
    await waitFor('the key ring holds the current key', async () => (await t.app.ctx.tokens.verify(before, 'refresh')) !== null);
    await rotateSigningKeys(t.app.ctx, null);
    const refreshed = await t.api.post('/auth/refresh', { refresh_token: before });
    assert.equal(refreshed.status, 200, `signed by what is now the previous key: nobody is signed out by the upgrade (${JSON.stringify(refreshed.body)})`);
    assert.equal(decodeProtectedHeader(refreshed.body.refresh_token).alg, 'HS256', 'its successor is MACed');
    assert.equal((await t.api.post('/auth/refresh', { refresh_token: refreshed.body.refresh_token })).status, 200);

    // The refresh key MACs refresh tokens only: an access token made with it is refused.
    const rtKid = decodeProtectedHeader(u.refreshToken).kid as string;
    const stored = await readSecret(t.app.ctx.db, 'refresh_token_mac_key');
    const macKey = Buffer.from(t.app.ctx.secrets.open(stored, 'refresh_token_mac_key'), 'utf8');
    const mac = (typ: string, claims: Record<string, unknown>) =>
      new SignJWT({ ...claims, jti: randomUUID() }).setProtectedHeader({ alg: 'HS256', kid: rtKid, typ }).sign(macKey);
    assert.equal(await meStatus(t, await mac('at+jwt', decodeJwt(refreshed.body.access_token))), 401);
    assert.ok(await t.app.ctx.tokens.verify(await mac('rt+jwt', decodeJwt(refreshed.body.refresh_token)), 'refresh'), 'the control: a refresh token so made verifies');
  });
});

if (DATABASE_KINDS.includes('postgres')) describe('signing keys: two instances on one PostgreSQL', () => {
  it('agree after a rotation by the other, and refuse a key the other revoked within a few seconds', async () => {
    const database = await createTestDatabase('postgres');
    const a = await startTestApp('postgres', { database });
    const b = await startTestApp('postgres', { database });
    try {
      const u = await registerAndSignIn(a.api);
      assert.equal(await meStatus(b, u.accessToken), 200);
      const rotation = await rotateSigningKeys(b.app.ctx, null);
      // The new current key was `next` before, so A verifies B's new tokens even before it polls.
      const fromB = await waitFor('B signing with the new key', async () => {
        const s = await signIn(b.api, u.email);
        return kidOf(s.accessToken) === rotation.current && s;
      });
      assert.equal(await meStatus(a, fromB.accessToken), 200);
      const fromA = await waitFor('A signing with the new key', async () => {
        const s = await signIn(a.api, u.email);
        return kidOf(s.accessToken) === rotation.current && s;
      });
      assert.equal(await meStatus(b, fromA.accessToken), 200);
      assert.equal(await meStatus(a, u.accessToken), 200, 'the previous key still verifies on A');
      assert.equal((await a.api.post('/auth/refresh', { refresh_token: u.refreshToken })).status, 200);
      await revokeSigningKey(b.app.ctx, { kid: rotation.previous!, meta: null });
      await waitFor('A refusing the key B revoked', async () => (await meStatus(a, u.accessToken)) === 401, 8000);
      assert.equal(await meStatus(a, fromA.accessToken), 200, 'the current key is untouched');
    } finally {
      await b.close();
      await a.close();
      await database.drop();
    }
  });
});

for (const kind of DATABASE_KINDS) describe(`upgrade of a 0.1 database (${kind})`, () => {
  it('keeps HS256 tokens of the generated secret valid until they expire, the refresh grace too, and signs new ones with the new key', async () => {
    const database = await createTestDatabase(kind, { persistent: true });
    try {
      // 0.1: HS256 with the secret it generated and kept in the database.
      const old = await startTestApp(kind, { database, env: { JWT_ALGORITHM: 'HS256' } });
      const u = await registerAndSignIn(old.api);
      const rotated = await old.api.post('/auth/refresh', { refresh_token: u.refreshToken });
      const secret = (await old.app.ctx.db.selectFrom('app_secrets').select('value').where('name', '=', 'jwt_signing_secret').executeTakeFirstOrThrow()).value;
      // What 0.1 left in the database: its generated secret and nothing of 0.2's.
      await old.app.ctx.db.deleteFrom('app_secrets').where('name', '<>', 'jwt_signing_secret').execute();
      await old.close();
      assert.equal(decodeProtectedHeader(rotated.body.access_token).kid, undefined);

      const t = await startTestApp(kind, { database, clock: old.clock });
      try {
        assert.equal(await meStatus(t, rotated.body.access_token), 200, 'a 0.1 access token still verifies');
        const retried = await t.api.post('/auth/refresh', { refresh_token: u.refreshToken });
        assert.equal(retried.status, 200, 'a refresh retried across the upgrade gets its grace');
        assert.equal(decodeJwt(retried.body.refresh_token).jti, decodeJwt(rotated.body.refresh_token).jti, 'the same child');
        const next = await t.api.post('/auth/refresh', { refresh_token: rotated.body.refresh_token });
        assert.equal(next.status, 200, 'a 0.1 refresh token refreshes');
        assert.equal(decodeProtectedHeader(next.body.access_token).alg, 'ES256');
        assert.equal(await meStatus(t, next.body.access_token), 200);
        // Keyhold 0.1 signed without a kid; one naming a key, or an algorithm other than HS256, is refused.
        const claims = decodeJwt(next.body.access_token);
        const hs = (header: Record<string, unknown>) =>
          new SignJWT({ ...claims, jti: randomUUID() }).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', ...header }).sign(new TextEncoder().encode(secret));
        assert.equal(await meStatus(t, await hs({})), 200, 'the old secret, inside the window');
        assert.equal(await meStatus(t, await hs({ kid: kidOf(next.body.access_token) })), 401, 'HS256 under an ES256 kid');
        // The window: the longest token lifetime (7 days) after the upgrade, and the margin.
        t.clock.advanceDays(7);
        t.clock.advanceSeconds(61);
        const late = { ...claims, iat: Math.floor(t.clock.now().getTime() / 1000), exp: Math.floor(t.clock.now().getTime() / 1000) + 600 };
        const lateToken = await new SignJWT({ ...late, jti: randomUUID() }).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' }).sign(new TextEncoder().encode(secret));
        assert.equal(await meStatus(t, lateToken), 401, 'HS256 is not accepted beyond the tokens of before the upgrade');
      } finally {
        await t.close();
      }
    } finally {
      await database.drop();
    }
  });
});

for (const kind of DATABASE_KINDS) describe(`HS256 mode (${kind})`, () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp(kind, { env: { JWT_SECRET: 'hs256-mode-test-secret-0123456789abcdef' } });
  });
  after(() => t.close());

  it('is 0.1 byte for byte: no kid, an empty JWKS, childJti the HMAC of the secret, the same child string', async () => {
    const u = await registerAndSignIn(t.api);
    assert.deepEqual(decodeProtectedHeader(u.accessToken), { alg: 'HS256', typ: 'at+jwt' });
    const jwks = await fetch(`${t.baseUrl}/.well-known/jwks.json`);
    assert.deepEqual(await jwks.json(), { keys: [] });
    assert.equal(jwks.headers.get('cache-control'), 'public, max-age=300');
    const first = await t.api.post('/auth/refresh', { refresh_token: u.refreshToken });
    const again = await t.api.post('/auth/refresh', { refresh_token: u.refreshToken });
    assert.equal(again.body.refresh_token, first.body.refresh_token, 'HMAC signatures are deterministic: the very same string');
    const expected = createHmac('sha256', 'hs256-mode-test-secret-0123456789abcdef').update(`refresh-rotation:${decodeJwt(u.refreshToken).jti}`).digest('base64url');
    assert.equal(decodeJwt(first.body.refresh_token).jti, expected);
  });
});

for (const alg of ['EdDSA', 'RS256'] as const) describe(`JWT_ALGORITHM=${alg}`, () => {
  it('signs with it, publishes it, and a change of algorithm keeps the old key verifying', async () => {
    const database = await createTestDatabase('pglite', { persistent: true });
    try {
      const first = await startTestApp('pglite', { database, env: { JWT_ALGORITHM: alg } });
      const u = await registerAndSignIn(first.api);
      assert.equal(decodeProtectedHeader(u.accessToken).alg, alg);
      await verifyLikeADownstreamService(first, u.accessToken);
      await first.close();
      const second = await startTestApp('pglite', { database, clock: first.clock });
      try {
        const s = await signIn(second.api, u.email);
        assert.equal(decodeProtectedHeader(s.accessToken).alg, 'ES256', 'the new default takes over');
        assert.equal(await meStatus(second, u.accessToken), 200, `the ${alg} key is previous now and still verifies`);
        await verifyLikeADownstreamService(second, u.accessToken);
        await verifyLikeADownstreamService(second, s.accessToken);
      } finally {
        await second.close();
      }
    } finally {
      await database.drop();
    }
  });
});

describe('signing configuration', () => {
  it('defaults to ES256, keeps HS256 when JWT_SECRET is set, and names a bad JWT_ALGORITHM', () => {
    assert.equal(loadConfig({}).jwtAlgorithm, 'ES256');
    assert.equal(loadConfig({ JWT_SECRET: 'x'.repeat(32) }).jwtAlgorithm, 'HS256');
    assert.equal(loadConfig({ JWT_SECRET: 'x'.repeat(32), JWT_ALGORITHM: 'es256' }).jwtAlgorithm, 'ES256');
    assert.equal(loadConfig({ JWT_ALGORITHM: 'eddsa' }).jwtAlgorithm, 'EdDSA');
    assert.throws(() => loadConfig({ JWT_ALGORITHM: 'HS512' }), /^ConfigError: Invalid configuration: JWT_ALGORITHM must be one of ES256, EdDSA, RS256, HS256/);
    assert.equal(loadConfig({}).jwtKeyRotationDays, 90);
    assert.throws(() => loadConfig({ JWT_KEY_ROTATION_DAYS: '-1' }), /JWT_KEY_ROTATION_DAYS/);
    assert.equal(loadConfig({ HOST: '0.0.0.0', PORT: '9000' }).publicUrl, 'http://0.0.0.0:9000');
    assert.equal(loadConfig({ PUBLIC_URL: 'https://auth.example.com/' }).publicUrl, 'https://auth.example.com');
    assert.throws(() => loadConfig({ PUBLIC_URL: 'ftp://x' }), /PUBLIC_URL/);
  });
});
