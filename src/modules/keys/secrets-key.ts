// The secret box's key for this deployment (lib/secret-box.ts seals with it), the same for
// the server and the CLI. Where it comes from:
// - SECRETS_ENCRYPTION_KEY (base64 of 32 bytes), when set;
// - the embedded database without it: a key file generated once in DATA_DIR, outside the
//   database, so a copy of the database alone does not reveal the secrets;
// - DATABASE_URL without it: none. Secrets are stored unencrypted and every start logs one
//   warning (the contract's rule: an operator who has not configured a key still starts).
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SecretBoxError } from '../../lib/secret-box.js';

export const SECRETS_KEY_FILE = 'secrets.key';
let memoryDatabaseKey: Buffer | undefined;

export interface SecretsKeySource {
  secretsEncryptionKey?: Buffer;
  databaseUrl?: string;
  dataDir: string;
}

/**
 * The key for this deployment (see the header), or null when secrets are stored unencrypted.
 * `warn` is called once in that case.
 */
export async function resolveSecretsKey(source: SecretsKeySource, warn: (message: string) => void): Promise<Buffer | null> {
  if (source.secretsEncryptionKey) return source.secretsEncryptionKey;
  if (source.databaseUrl) {
    warn('SECRETS_ENCRYPTION_KEY is not set: signing keys, TOTP and webhook secrets are stored unencrypted in the database');
    return null;
  }
  // An in-memory database (tests) lives as long as the process; so may its key (one per
  // process: two apps sharing one in-memory database must open each other's secrets).
  if (source.dataDir.startsWith('memory://')) return (memoryDatabaseKey ??= randomBytes(32));
  return readOrCreateKeyFile(join(source.dataDir, SECRETS_KEY_FILE));
}

async function readOrCreateKeyFile(path: string): Promise<Buffer> {
  try {
    return parseKeyFile(path, await readFile(path, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(join(path, '..'), { recursive: true });
  try {
    // 'wx': of two processes creating it at once, one writes and the other reads its key.
    await writeFile(path, `${randomBytes(32).toString('base64')}\n`, { flag: 'wx', mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return parseKeyFile(path, await readFile(path, 'utf8'));
}

function parseKeyFile(path: string, text: string): Buffer {
  const key = Buffer.from(text.trim(), 'base64');
  if (key.length !== 32) throw new SecretBoxError(`${path} does not hold a base64 32-byte key`);
  return key;
}
