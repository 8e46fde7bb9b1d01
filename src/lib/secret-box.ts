// Secrets at rest (signing keys' private halves, TOTP secrets, webhook secrets): AES-256-GCM
// with one 32-byte key, the same for the server and the CLI.
//
// Where the key comes from (resolveSecretsKey):
// - SECRETS_ENCRYPTION_KEY (base64 of 32 bytes), when set;
// - the embedded database without it: a key file generated once in DATA_DIR, outside the
//   database, so a copy of the database alone does not reveal the secrets;
// - DATABASE_URL without it: none. Secrets are stored unencrypted and every start logs one
//   warning (the contract's rule: an operator who has not configured a key still starts).
//
// Every sealed value names its purpose (e.g. `signing-key:<kid>`) as GCM's additional data, so
// a sealed value copied into another row or column does not open there.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface SecretBox {
  /** False only on DATABASE_URL without SECRETS_ENCRYPTION_KEY. */
  readonly encrypted: boolean;
  /** The stored form of `plaintext`: `v1.<iv>.<ciphertext+tag>`, or `plain.<base64url>` without a key. */
  seal(plaintext: string, purpose: string): string;
  /** The plaintext of a sealed value; throws SecretBoxError when it cannot be opened. */
  open(sealed: string, purpose: string): string;
}

export class SecretBoxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretBoxError';
  }
}

export const SECRETS_KEY_FILE = 'secrets.key';
let memoryDatabaseKey: Buffer | undefined;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export function createSecretBox(key: Buffer | null): SecretBox {
  if (key !== null && key.length !== 32) throw new SecretBoxError('The secrets key must be 32 bytes');
  return {
    encrypted: key !== null,
    seal(plaintext, purpose) {
      if (key === null) return `plain.${Buffer.from(plaintext, 'utf8').toString('base64url')}`;
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(Buffer.from(purpose, 'utf8'));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
      return `v1.${iv.toString('base64url')}.${body.toString('base64url')}`;
    },
    open(sealed, purpose) {
      const [version, first, second] = sealed.split('.');
      // A value stored before a key was configured still opens; it is sealed on its next write.
      if (version === 'plain' && first !== undefined && second === undefined) {
        return Buffer.from(first, 'base64url').toString('utf8');
      }
      if (version !== 'v1' || first === undefined || second === undefined) {
        throw new SecretBoxError('A stored secret is in an unknown format');
      }
      if (key === null) {
        throw new SecretBoxError('A stored secret is encrypted but SECRETS_ENCRYPTION_KEY is not set');
      }
      const iv = Buffer.from(first, 'base64url');
      const body = Buffer.from(second, 'base64url');
      if (iv.length !== IV_BYTES || body.length < TAG_BYTES) throw new SecretBoxError('A stored secret is damaged');
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, iv);
        decipher.setAAD(Buffer.from(purpose, 'utf8'));
        decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
        return Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]).toString('utf8');
      } catch {
        throw new SecretBoxError('A stored secret does not open with this SECRETS_ENCRYPTION_KEY');
      }
    },
  };
}

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
