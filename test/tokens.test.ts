// The token module on its own: above all, that remembering verified access tokens never
// accepts what a full check would refuse.
import assert from 'node:assert/strict';
import { createSecretKey, randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { SignJWT, decodeProtectedHeader } from 'jose';
import { createTokenService, hs256KeyRing, type TokenService } from '../src/lib/tokens.js';
import { FakeClock } from './helpers/clock.js';

const LIFETIMES = { access: 900, refresh: 7 * 86_400, password_reset: 3600, email_verification: 86_400 };

const SECRET = 'tokens-test-secret-0123456789abcdef';

function service(clock: FakeClock, secret = SECRET): TokenService {
  return createTokenService({ keys: hs256KeyRing(secret), refreshRotationSecret: secret, issuer: 'keyhold', audience: 'keyhold', clock, lifetimesSeconds: LIFETIMES });
}

describe('token service', () => {
  it('gives the same claims for an access token checked again, and refuses any altered copy', async () => {
    const clock = new FakeClock();
    const tokens = service(clock);
    const { token } = await tokens.issue('access', randomUUID(), { sid: randomUUID() });
    const first = await tokens.verify(token, 'access');
    assert.ok(first);
    assert.deepEqual(await tokens.verify(token, 'access'), first);
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const flipped = signature.startsWith('A') ? `B${signature.slice(1)}` : `A${signature.slice(1)}`;
    for (const altered of [`${header}.${payload}.${flipped}`, `${token}x`, `${header}.${payload}.`, ` ${token}`]) {
      assert.equal(await tokens.verify(altered, 'access'), null, altered);
    }
  });

  it('still refuses a remembered access token once it expires, or where another type is expected', async () => {
    const clock = new FakeClock();
    const tokens = service(clock);
    const { token } = await tokens.issue('access', randomUUID(), { sid: randomUUID() });
    assert.ok(await tokens.verify(token, 'access'));
    assert.equal(await tokens.verify(token, 'refresh'), null);
    clock.advanceSeconds(LIFETIMES.access - 1);
    assert.ok(await tokens.verify(token, 'access'), 'valid until its last second');
    clock.advanceSeconds(1);
    assert.equal(await tokens.verify(token, 'access'), null, 'expired at exp');
  });

  it('refuses a remembered token when the clock is set back before its issue time', async () => {
    const clock = new FakeClock();
    const tokens = service(clock);
    const { token } = await tokens.issue('access', randomUUID(), { sid: randomUUID() });
    assert.ok(await tokens.verify(token, 'access'));
    clock.advanceSeconds(-120);
    assert.equal(await tokens.verify(token, 'access'), null, 'an iat more than 60 s ahead is refused, remembered or not');
  });

  it('does not accept a token signed with another secret, even one another service has verified', async () => {
    const clock = new FakeClock();
    const theirs = service(clock, 'another-secret-entirely-0123456789abcdef');
    const ours = service(clock);
    const { token } = await theirs.issue('access', randomUUID(), { sid: randomUUID() });
    assert.ok(await theirs.verify(token, 'access'));
    assert.equal(await ours.verify(token, 'access'), null);
  });

  it('keeps verifying correctly beyond the number of tokens it remembers', async () => {
    const clock = new FakeClock();
    const tokens = service(clock);
    const issued = await Promise.all(Array.from({ length: 10_050 }, () => tokens.issue('access', randomUUID(), { sid: randomUUID() })));
    for (const { token } of issued) assert.ok(await tokens.verify(token, 'access'));
    assert.ok(await tokens.verify(issued[0]!.token, 'access'), 'the oldest, no longer remembered, verifies in full');
    assert.equal(await tokens.verify(`${issued[0]!.token}x`, 'access'), null);
  });

  /** A token signed with the service's own secret, so only its claims can make it fail. */
  const signed = (clock: FakeClock, claims: Record<string, unknown>) => {
    const now = Math.floor(clock.now().getTime() / 1000);
    return new SignJWT({ type: 'access', sub: randomUUID(), sid: randomUUID(), jti: randomUUID(), iss: 'keyhold', aud: 'keyhold', iat: now, exp: now + 600, ...claims })
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
      .sign(new TextEncoder().encode(SECRET));
  };

  it('refuses correctly signed tokens whose sub, sid or jti is not of the shape Keyhold issues', async () => {
    const clock = new FakeClock();
    const tokens = service(clock);
    assert.ok(await tokens.verify(await signed(clock, {}), 'access'), 'the control');
    assert.ok(await tokens.verify(await signed(clock, { sub: randomUUID().toUpperCase() }), 'access'), 'a uuid in capitals is a uuid');
    assert.ok(await tokens.verify(await signed(clock, { sid: undefined }), 'access'), 'sid is optional here; the session check needs it');
    assert.ok(await tokens.verify(await signed(clock, { jti: tokens.childJti(randomUUID()) }), 'access'), 'a rotated jti');
    const odd = [
      { sub: 'admin' }, { sub: '' }, { sub: 7 }, { sub: `{${randomUUID()}}` }, { sub: `${randomUUID()} ` },
      { sid: 'x' }, { sid: 5 }, { sid: `${randomUUID()}0` },
      { jti: '' }, { jti: 3 }, { jti: 'x'.repeat(129) }, { jti: 'line\nbreak' }, { jti: 'é' },
    ];
    for (const claims of odd) assert.equal(await tokens.verify(await signed(clock, claims), 'access'), null, JSON.stringify(claims));
  });

  it('refuses other spellings of a valid token before any decoding', async () => {
    const clock = new FakeClock();
    const tokens = service(clock);
    const { token } = await tokens.issue('refresh', randomUUID(), { sid: randomUUID() });
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const strayBit = `${signature.slice(0, -1)}${alphabet[alphabet.indexOf(signature.at(-1)!) ^ 1]}`;
    assert.ok(await tokens.verify(token, 'refresh'), 'the control');
    for (const spelling of [`${token}=`, `${token}==`, `${header}.${payload}.${strayBit}`, `${header}=.${payload}.${signature}`,
      `${header}.${payload}.${signature.replace(/-/g, '+').replace(/_/g, '/')}${/[-_]/.test(signature) ? '' : '='}`, `${token}.`, `${token}\n`]) {
      assert.equal(await tokens.verify(spelling, 'refresh'), null, spelling);
    }
  });
});

describe('token service with an asymmetric key ring', () => {
  it('forgets remembered tokens when the ring\'s generation moves (a revoked key), and signs with a kid', async () => {
    const { createKeyPair, privateKeyFromPem, publicKeyFromJwk } = await import('../src/modules/keys/key-material.js');
    const pair = await createKeyPair('ES256');
    let revoked = false;
    let generation = 0;
    const ring = {
      signing: () => ({ kid: pair.kid, alg: 'ES256' as const, key: privateKeyFromPem(pair.privatePem) }),
      verifier: (kid: string | undefined) => (kid === pair.kid && !revoked ? { kid: pair.kid, alg: 'ES256' as const, key: publicKeyFromJwk(pair.publicJwk) } : undefined),
      get generation() {
        return generation;
      },
    };
    const clock = new FakeClock();
    const tokens = createTokenService({ keys: ring, refreshRotationSecret: SECRET, issuer: 'keyhold', audience: 'keyhold', clock, lifetimesSeconds: LIFETIMES });
    const { token } = await tokens.issue('access', randomUUID(), { sid: randomUUID() });
    const [header] = token.split('.') as [string];
    assert.deepEqual(JSON.parse(Buffer.from(header, 'base64url').toString()), { alg: 'ES256', kid: pair.kid, typ: 'at+jwt' });
    assert.ok(await tokens.verify(token, 'access'));
    assert.ok(await tokens.verify(token, 'access'), 'remembered');
    revoked = true;
    generation++;
    assert.equal(await tokens.verify(token, 'access'), null, 'a revoked key\'s token is not served from memory');
  });

  it('MACs refresh tokens with the ring\'s refresh key, which signs nothing else; without one they are signed as the rest', async () => {
    const { createKeyPair, privateKeyFromPem, publicKeyFromJwk } = await import('../src/modules/keys/key-material.js');
    const pair = await createKeyPair('ES256');
    const signing = { kid: pair.kid, alg: 'ES256' as const, key: privateKeyFromPem(pair.privatePem) };
    const publicKey = { kid: pair.kid, alg: 'ES256' as const, key: publicKeyFromJwk(pair.publicJwk) };
    const refreshKey = { kid: 'rt-test', alg: 'HS256' as const, key: createSecretKey(Buffer.from('a refresh key of 32 bytes or so!')), refreshOnly: true as const };
    const verifier = (kid: string | undefined) => (kid === pair.kid ? publicKey : kid === refreshKey.kid ? refreshKey : undefined);
    const clock = new FakeClock();
    const make = (withRefreshKey: boolean) =>
      createTokenService({
        keys: { signing: () => signing, verifier, generation: 0, ...(withRefreshKey ? { refreshSigning: () => refreshKey } : {}) },
        refreshRotationSecret: SECRET, issuer: 'keyhold', audience: 'keyhold', clock, lifetimesSeconds: LIFETIMES,
      });
    const tokens = make(true);
    const user = randomUUID();
    const refresh = await tokens.issue('refresh', user, { sid: randomUUID() });
    assert.deepEqual(decodeProtectedHeader(refresh.token), { alg: 'HS256', kid: 'rt-test', typ: 'rt+jwt' });
    assert.equal((await tokens.verify(refresh.token, 'refresh'))?.sub, user);
    assert.equal(await tokens.verify(`${refresh.token.slice(0, -2)}${refresh.token.endsWith('A') ? 'BA' : 'AA'}`, 'refresh'), null, 'a wrong MAC');
    assert.equal(decodeProtectedHeader((await tokens.issue('access', user)).token).alg, 'ES256', 'access tokens keep the signing key');
    // An access token MACed with the refresh key (only Keyhold holds it, yet): refused.
    const misuse = await new SignJWT({ type: 'access', sid: randomUUID() })
      .setProtectedHeader({ alg: 'HS256', kid: 'rt-test', typ: 'at+jwt' })
      .setSubject(user).setJti(randomUUID()).setIssuer('keyhold').setAudience('keyhold').setIssuedAt().setExpirationTime('5m')
      .sign(refreshKey.key);
    assert.equal(await tokens.verify(misuse, 'access'), null);
    // A ring without a refresh key (HS256 mode, or a token made before the upgrade): signed as the rest, still accepted.
    const before = await make(false).issue('refresh', user, { sid: randomUUID() });
    assert.equal(decodeProtectedHeader(before.token).alg, 'ES256');
    assert.ok(await tokens.verify(before.token, 'refresh'));
  });
});
