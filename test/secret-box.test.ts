import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { createSecretBox } from '../src/lib/secret-box.js';
import { SECRETS_KEY_FILE, resolveSecretsKey } from '../src/modules/keys/secrets-key.js';
import { loadConfig, ConfigError } from '../src/config.js';

test('a sealed secret opens with its key and purpose only', () => {
  const box = createSecretBox(randomBytes(32));
  const sealed = box.seal('private key', 'signing-key:k1');
  assert.match(sealed, /^v1\./);
  assert.ok(!sealed.includes('private'));
  assert.equal(box.open(sealed, 'signing-key:k1'), 'private key');
  assert.throws(() => box.open(sealed, 'signing-key:k2'), /does not open/);
  assert.throws(() => createSecretBox(randomBytes(32)).open(sealed, 'signing-key:k1'), /does not open/);
  const tampered = `${sealed.slice(0, -2)}${sealed.endsWith('A') ? 'B' : 'A'}A`;
  assert.throws(() => box.open(tampered, 'signing-key:k1'), /does not open|damaged/);
  assert.notEqual(box.seal('same', 'p'), box.seal('same', 'p'), 'a fresh IV each time');
});

test('without a key secrets are stored plainly, and a later key still opens them', () => {
  const plain = createSecretBox(null);
  assert.equal(plain.encrypted, false);
  const stored = plain.seal('totp secret', 'totp:u1');
  assert.equal(createSecretBox(randomBytes(32)).open(stored, 'totp:u1'), 'totp secret');
  const sealed = createSecretBox(randomBytes(32)).seal('x', 'p');
  assert.throws(() => plain.open(sealed, 'p'), /SECRETS_ENCRYPTION_KEY is not set/);
});

test('the key comes from SECRETS_ENCRYPTION_KEY, a key file in DATA_DIR, or nowhere (with a warning)', async () => {
  const key = randomBytes(32);
  const config = loadConfig({ SECRETS_ENCRYPTION_KEY: key.toString('base64') });
  assert.deepEqual(config.secretsEncryptionKey, key);
  assert.throws(() => loadConfig({ SECRETS_ENCRYPTION_KEY: 'c2hvcnQ=' }), (err: unknown) => err instanceof ConfigError && !/c2hvcnQ/.test(err.message));

  const warnings: string[] = [];
  assert.deepEqual(await resolveSecretsKey({ secretsEncryptionKey: key, dataDir: './x' }, (m) => warnings.push(m)), key);
  assert.equal(await resolveSecretsKey({ databaseUrl: 'postgres://x/y', dataDir: './x' }, (m) => warnings.push(m)), null);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /stored unencrypted/);

  const dir = await mkdtemp(join(tmpdir(), 'keyhold-secrets-'));
  try {
    const [first, second] = await Promise.all([
      resolveSecretsKey({ dataDir: dir }, () => assert.fail('no warning')),
      resolveSecretsKey({ dataDir: dir }, () => assert.fail('no warning')),
    ]);
    assert.deepEqual(first, second, 'two processes starting at once agree on one key');
    assert.deepEqual(await resolveSecretsKey({ dataDir: dir }, () => {}), first, 'the key file is kept');
    assert.equal((await stat(join(dir, SECRETS_KEY_FILE))).mode & 0o777, 0o600);
    assert.equal(Buffer.from((await readFile(join(dir, SECRETS_KEY_FILE), 'utf8')).trim(), 'base64').length, 32);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
