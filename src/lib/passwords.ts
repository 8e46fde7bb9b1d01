// Password hashing: argon2id for every new hash. Hashes brought in by `keyhold import` (bcrypt,
// argon2i, passlib's and Django's PBKDF2-SHA256) still verify and are upgraded to argon2id on
// the next successful login (login.service.ts asks for the rehash; completeSignIn stores it).
import argon2 from 'argon2';
import type * as Bcrypt from 'bcryptjs';
import { inspectPasswordHash, parseArgon2Params, verifyPbkdf2, type Argon2Params } from './password-formats.js';

export { parseArgon2Params, type Argon2Params };

/** OWASP's minimum for argon2id; the service never hashes with less. */
export const MIN_ARGON2_PARAMS: Argon2Params = { memoryKib: 19_456, iterations: 2, parallelism: 1 };

export interface VerifyResult {
  valid: boolean;
  /** The hash is valid but weaker than (or different from) today's parameters. */
  needsRehash: boolean;
}

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /** With `storedHash` null (unknown user, or no password) the same work is done and the
   *  answer is invalid, so response time does not reveal whether the user exists. */
  verify(storedHash: string | null, password: string): Promise<VerifyResult>;
}

/** Passwords are compared in NFKC, so the same visible password always matches. */
export const normalizePassword = (password: string): string => password.normalize('NFKC');

export function createPasswordHasher(params: Argon2Params = MIN_ARGON2_PARAMS): PasswordHasher {
  const options = {
    type: argon2.argon2id as typeof argon2.argon2id,
    memoryCost: params.memoryKib,
    timeCost: params.iterations,
    parallelism: params.parallelism,
  };
  let dummyHash: Promise<string> | undefined;
  const hash = (password: string): Promise<string> => argon2.hash(normalizePassword(password), options);

  return {
    hash,
    async verify(storedHash, password) {
      if (storedHash === null) {
        dummyHash ??= hash('keyhold-dummy-password-for-equal-timing');
        await argon2.verify(await dummyHash, normalizePassword(password));
        return { valid: false, needsRehash: false };
      }
      // A hash that is not one of the known formats, or asks for more work than the caps
      // allow, is a failed check: nothing is computed for it.
      const inspected = inspectPasswordHash(storedHash);
      if (!inspected.ok) return { valid: false, needsRehash: false };
      if (inspected.format === 'bcrypt') {
        // Foreign formats are checked against the password as typed: the system that made
        // them hashed it without Keyhold's NFKC step.
        const valid = await (await loadBcrypt()).compare(password, storedHash);
        return { valid, needsRehash: valid };
      }
      if (inspected.format === 'pbkdf2-sha256') {
        const valid = await verifyPbkdf2(storedHash, password);
        return { valid, needsRehash: valid };
      }
      const stored = parseArgon2Params(storedHash)!;
      let valid = false;
      try {
        valid = await argon2.verify(storedHash, normalizePassword(password));
      } catch {
        return { valid: false, needsRehash: false };
      }
      const needsRehash =
        !storedHash.startsWith('$argon2id$') ||
        stored.memoryKib < params.memoryKib ||
        stored.iterations < params.iterations ||
        stored.parallelism !== params.parallelism;
      return { valid, needsRehash: valid && needsRehash };
    },
  };
}

// Only users imported with bcrypt hashes need bcryptjs, once each: loaded on first use.
let bcrypt: Promise<typeof Bcrypt> | undefined;
function loadBcrypt(): Promise<typeof Bcrypt> {
  bcrypt ??= import('bcryptjs').then(
    (module) => (module.default ?? module) as typeof Bcrypt,
    (err: unknown) => {
      bcrypt = undefined;
      throw new Error(`bcryptjs could not be loaded, so bcrypt password hashes cannot be verified: ${(err as Error).message}`);
    },
  );
  return bcrypt;
}
