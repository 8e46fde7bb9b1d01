import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import argon2 from 'argon2';
import { createPasswordHasher, parseArgon2Params } from '../src/lib/passwords.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { registerUser } from './helpers/fixtures.js';
import { createTestHasher } from './helpers/hasher.js';

describe('stored password hashes', () => {
  let t: TestApp;
  before(async () => {
    // About argon2 itself: the app's own hasher, not the tests' cheap one.
    t = await startTestApp('pglite', { passwords: 'argon2' });
  });
  after(() => t.close());

  it('upgrades an argon2 hash with weaker parameters on login', async () => {
    const { email, user } = await registerUser(t.api);
    const weak = await argon2.hash('weak-params-passphrase', { type: argon2.argon2i, memoryCost: 8192, timeCost: 1, parallelism: 1 });
    await t.app.ctx.db.updateTable('users').set({ password_hash: weak }).where('id', '=', user.id).execute();
    assert.equal((await t.api.post('/auth/login/json', { email, password: 'weak-params-passphrase' })).status, 200);
    const row = await t.app.ctx.db.selectFrom('users').select('password_hash').where('id', '=', user.id).executeTakeFirstOrThrow();
    assert.ok(row.password_hash!.startsWith('$argon2id$'));
    assert.deepEqual(parseArgon2Params(row.password_hash!), { memoryKib: 19_456, iterations: 2, parallelism: 1 });
  });

  it('hashes with argon2id at the configured cost and compares NFKC-normalised passwords', async () => {
    const hasher = createPasswordHasher();
    const hash = await hasher.hash('Ｃａｆｅ-ｓｅｃｒｅｔ-９');
    assert.deepEqual(parseArgon2Params(hash), { memoryKib: 19_456, iterations: 2, parallelism: 1 });
    assert.ok(hash.startsWith('$argon2id$'));
    assert.notEqual(await hasher.hash('Ｃａｆｅ-ｓｅｃｒｅｔ-９'), hash, 'salted');
    assert.deepEqual(await hasher.verify(hash, 'Cafe-secret-9'), { valid: true, needsRehash: false });
    assert.deepEqual(await hasher.verify(hash, 'Cafe-secret-8'), { valid: false, needsRehash: false });
    assert.deepEqual(await hasher.verify(null, 'Cafe-secret-9'), { valid: false, needsRehash: false });
  });

  it('refuses to compute a stored hash that asks for absurd cost', async () => {
    const hasher = createPasswordHasher();
    const planted = '$argon2id$v=19$m=4194304,t=3,p=1$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g';
    const started = Date.now();
    assert.deepEqual(await hasher.verify(planted, 'anything'), { valid: false, needsRehash: false });
    assert.ok(Date.now() - started < 2000, 'no 4 GiB hash was computed');
    const manyPasses = '$argon2id$v=19$m=19456,t=1000,p=1$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g';
    assert.deepEqual(await hasher.verify(manyPasses, 'anything'), { valid: false, needsRehash: false });
    assert.deepEqual(await hasher.verify('not a hash at all', 'anything'), { valid: false, needsRehash: false });
  });
});

// The other suites hash with helpers/hasher.ts: it must behave like argon2 where they look.
describe('the tests\' cheap hasher', () => {
  it('salts, normalises, counts dummy checks and leaves foreign hashes to the real hasher', async () => {
    const hasher = createTestHasher();
    const [a, b] = [await hasher.hash('Ｃａｆｅ-ｓｅｃｒｅｔ-９'), await hasher.hash('Ｃａｆｅ-ｓｅｃｒｅｔ-９')];
    assert.notEqual(a, b, 'salted');
    assert.deepEqual(await hasher.verify(a, 'Cafe-secret-9'), { valid: true, needsRehash: false }, 'NFKC');
    assert.deepEqual(await hasher.verify(b, 'Cafe-secret-8'), { valid: false, needsRehash: false });
    assert.deepEqual(await hasher.verify(null, 'Cafe-secret-9'), { valid: false, needsRehash: false });
    assert.deepEqual(hasher.calls, { hash: 2, verify: 3, verifyWithoutHash: 1 });

    const current = await createPasswordHasher().hash('real-argon2-passphrase');
    assert.deepEqual(await hasher.verify(current, 'real-argon2-passphrase'), { valid: true, needsRehash: false });
    const weak = await argon2.hash('weak-params-passphrase', { type: argon2.argon2id, memoryCost: 8192, timeCost: 1, parallelism: 1 });
    assert.deepEqual(await hasher.verify(weak, 'weak-params-passphrase'), { valid: true, needsRehash: true });
    const bcrypt = await import('bcryptjs');
    assert.deepEqual(await hasher.verify(await bcrypt.default.hash('legacy-password', 4), 'legacy-password'), { valid: true, needsRehash: true });
    assert.deepEqual(await hasher.verify('not a hash at all', 'anything'), { valid: false, needsRehash: false });
  });
});
