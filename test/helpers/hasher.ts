// A cheap stand-in for argon2 (AppDeps.passwords), the default of startTestApp: tests that are
// not about hashing should not spend 40 ms of CPU per register and login. It keeps what those
// tests observe of the real hasher:
//   - every hash is salted, so one password hashed twice gives two different strings;
//   - passwords are compared NFKC-normalised (normalizePassword, as the real one does);
//   - verify(null, …) (unknown user, locked account) still hashes something, and is counted;
//   - a hash it did not make (argon2 from the CLI or a planted weak one, imported bcrypt,
//     garbage) goes to the real hasher, with the real `needsRehash` answer.
// Tests about argon2 itself (parameters, rehash, bcrypt upgrade, stored-hash caps) start their
// app with `passwords: 'argon2'`.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createPasswordHasher, normalizePassword, type PasswordHasher, type VerifyResult } from '../../src/lib/passwords.js';

const PREFIX = '$test-sha256$';
const DUMMY = `${PREFIX}${'0'.repeat(32)}$${'0'.repeat(64)}`;

export interface HasherCalls {
  hash: number;
  /** Every verify, whatever the stored hash. */
  verify: number;
  /** verify(null, …): the dummy check of an unknown or locked user. */
  verifyWithoutHash: number;
}

export interface CountingHasher extends PasswordHasher {
  readonly calls: HasherCalls;
}

const digest = (salt: string, password: string): string =>
  createHash('sha256').update(salt).update('\0').update(normalizePassword(password)).digest('hex');

let realHasher: PasswordHasher | undefined;
const real = (): PasswordHasher => (realHasher ??= createPasswordHasher());

/** The cheap hasher, counting its calls. */
export function createTestHasher(): CountingHasher {
  const calls: HasherCalls = { hash: 0, verify: 0, verifyWithoutHash: 0 };
  const check = (stored: string, password: string): boolean => {
    const [salt, expected] = stored.slice(PREFIX.length).split('$');
    if (!salt || !expected || expected.length !== 64) return false;
    return timingSafeEqual(Buffer.from(digest(salt, password)), Buffer.from(expected));
  };
  return {
    calls,
    async hash(password) {
      calls.hash++;
      const salt = randomBytes(16).toString('hex');
      return `${PREFIX}${salt}$${digest(salt, password)}`;
    },
    async verify(storedHash, password): Promise<VerifyResult> {
      calls.verify++;
      if (storedHash === null) {
        calls.verifyWithoutHash++;
        check(DUMMY, password);
        return { valid: false, needsRehash: false };
      }
      if (!storedHash.startsWith(PREFIX)) return real().verify(storedHash, password);
      return { valid: check(storedHash, password), needsRehash: false };
    },
  };
}

/** Counts the calls of another hasher (the real argon2 one, for tests about it). */
export function countCalls(inner: PasswordHasher): CountingHasher {
  const calls: HasherCalls = { hash: 0, verify: 0, verifyWithoutHash: 0 };
  return {
    calls,
    hash(password) {
      calls.hash++;
      return inner.hash(password);
    },
    verify(storedHash, password) {
      calls.verify++;
      if (storedHash === null) calls.verifyWithoutHash++;
      return inner.verify(storedHash, password);
    },
  };
}
