// Secrets at rest (signing keys' private halves, TOTP secrets, webhook secrets): AES-256-GCM
// with one 32-byte key, the same for the server and the CLI.
//
// Where the key comes from (SECRETS_ENCRYPTION_KEY, a key file in DATA_DIR, or none) is
// modules/keys/secrets-key.ts's: lib/ does no file I/O.
//
// Every sealed value names its purpose (e.g. `signing-key:<kid>`) as GCM's additional data, so
// a sealed value copied into another row or column does not open there.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

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
