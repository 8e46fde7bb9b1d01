// The stored-hash formats Keyhold verifies (src/lib/password-formats.ts), each computed here
// from a known password in its format's exact encoding, and the cost caps that keep a planted
// hash from making a login expensive: over the cap, nothing is computed and the check fails.
import assert from 'node:assert/strict';
import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import argon2 from 'argon2';
import bcrypt from 'bcryptjs';
import { inspectPasswordHash, STORED_HASH_LIMITS } from '../src/lib/password-formats.js';
import { createPasswordHasher } from '../src/lib/passwords.js';

const ab64 = (bytes: Buffer): string => bytes.toString('base64').replace(/=+$/, '').replace(/\+/g, '.');
const hasher = createPasswordHasher();

async function assertVerifies(hash: string, password: string, label: string) {
  assert.deepEqual(inspectPasswordHash(hash).ok, true, label);
  assert.deepEqual(await hasher.verify(hash, password), { valid: true, needsRehash: true }, `${label}: the right password, flagged for argon2id`);
  assert.deepEqual(await hasher.verify(hash, `${password}!`), { valid: false, needsRehash: false }, `${label}: a wrong password`);
}

describe('foreign password hashes', () => {
  it('bcrypt $2a$, $2b$ and $2y$', async () => {
    const hash = await bcrypt.hash('bcrypt password', 4);
    for (const prefix of ['$2a$', '$2b$', '$2y$']) await assertVerifies(hash.replace(/^\$2b\$/, prefix), 'bcrypt password', prefix);
  });

  it('argon2id and argon2i of other parameters', async () => {
    await assertVerifies(await argon2.hash('argon2 password', { type: argon2.argon2i, memoryCost: 4096, timeCost: 3, parallelism: 1 }), 'argon2 password', 'argon2i');
    await assertVerifies(await argon2.hash('argon2 password', { type: argon2.argon2id, memoryCost: 4096, timeCost: 1, parallelism: 2 }), 'argon2 password', 'weak argon2id');
  });

  it("passlib's $pbkdf2-sha256$ (adapted base64), including passlib's own documented examples", async () => {
    const salt = randomBytes(16);
    await assertVerifies(`$pbkdf2-sha256$1000$${ab64(salt)}$${ab64(pbkdf2Sync('pässword', salt, 1000, 32, 'sha256'))}`, 'pässword', 'computed');
    await assertVerifies('$pbkdf2-sha256$29000$N2YMIWQsBWBMae09x1jrPQ$1t8iyB2A.WF/Z5JZv.lfCIhXXN33N23OSgQYThBYRfk', 'toomanysecrets', 'passlib doc');
    await assertVerifies('$pbkdf2-sha256$8000$XAuBMIYQQogxRg$tRRlz8hYn63B9LYiCd6PRo6FMiunY9ozmMMI3srxeRE', 'password', 'passlib doc, 10-byte salt');
  });

  it("Django's pbkdf2_sha256$ (text salt, standard base64)", async () => {
    const salt = 'aB3dE6gH9jK2';
    await assertVerifies(`pbkdf2_sha256$20000$${salt}$${pbkdf2Sync('django password', salt, 20000, 32, 'sha256').toString('base64')}`, 'django password', 'django');
  });

  it('refuses unknown and malformed formats, and costs over the caps, without computing them', async () => {
    const overCap = [
      `$2b$${STORED_HASH_LIMITS.bcryptCost + 1}$${'a'.repeat(53)}`,
      `pbkdf2_sha256$${STORED_HASH_LIMITS.pbkdf2Iterations + 1}$salt$${Buffer.alloc(32).toString('base64')}`,
      `$pbkdf2-sha256$${STORED_HASH_LIMITS.pbkdf2Iterations * 50}$${ab64(randomBytes(16))}$${ab64(randomBytes(32))}`,
      '$argon2id$v=19$m=4194304,t=3,p=1$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g',
    ];
    for (const hash of overCap) {
      assert.match((inspectPasswordHash(hash) as { reason: string }).reason, /over the limit/, hash);
      const started = performance.now();
      assert.deepEqual(await hasher.verify(hash, 'anything'), { valid: false, needsRehash: false });
      assert.ok(performance.now() - started < 200, `${hash}: not computed`);
    }
    for (const hash of ['5f4dcc3b5aa765d61d8327deb882cf99', '$1$salt$hash', '$argon2d$v=19$m=4096,t=3,p=1$c29tZXNhbHQ$aGFzaGhhc2hoYXNoaGFzaA', '$2b$10$short', 'pbkdf2_sha1$1000$salt$abc=', 'sha1$salt$abc']) {
      assert.equal(inspectPasswordHash(hash).ok, false, hash);
      assert.deepEqual(await hasher.verify(hash, 'anything'), { valid: false, needsRehash: false }, hash);
    }
  });
});
