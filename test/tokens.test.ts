// The token module on its own: above all, that remembering verified access tokens never
// accepts what a full check would refuse.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { createTokenService, type TokenService } from '../src/lib/tokens.js';
import { FakeClock } from './helpers/clock.js';

const LIFETIMES = { access: 900, refresh: 7 * 86_400, password_reset: 3600, email_verification: 86_400 };

function service(clock: FakeClock, secret = 'tokens-test-secret-0123456789abcdef'): TokenService {
  return createTokenService({ secret, issuer: 'keyhold', audience: 'keyhold', clock, lifetimesSeconds: LIFETIMES });
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
});
