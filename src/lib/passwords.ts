// Password hashing: argon2id for every new hash; bcrypt hashes of imported users still
// verify and are upgraded on the next successful login.
import argon2 from 'argon2';
import type * as Bcrypt from 'bcryptjs';

export interface Argon2Params {
  memoryKib: number;
  iterations: number;
  parallelism: number;
}

/** OWASP's minimum for argon2id; the service never hashes with less. */
export const MIN_ARGON2_PARAMS: Argon2Params = { memoryKib: 19_456, iterations: 2, parallelism: 1 };

// A stored hash chooses its own cost; these caps stop a planted hash from making one
// login burn a gigabyte or a minute of CPU.
const MAX_STORED = { memoryKib: 262_144, iterations: 16, parallelism: 16 };

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
      if (isBcrypt(storedHash)) {
        const valid = await (await loadBcrypt()).compare(password, storedHash);
        return { valid, needsRehash: valid };
      }
      const stored = parseArgon2Params(storedHash);
      if (!stored || !withinLimits(stored)) return { valid: false, needsRehash: false };
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

const isBcrypt = (hash: string): boolean => /^\$2[abxy]\$\d{2}\$/.test(hash);

export function parseArgon2Params(hash: string): Argon2Params | null {
  // PHC string: $argon2id$v=19$m=19456,t=2,p=1$salt$hash (parameter order varies by library).
  const match = /^\$argon2(?:id|i|d)\$(?:v=\d+\$)?([a-z]=\d+(?:,[a-z]=\d+)*)\$/.exec(hash);
  if (!match) return null;
  const params = new Map(match[1]!.split(',').map((pair) => [pair[0], Number(pair.slice(2))] as const));
  const memoryKib = params.get('m');
  const iterations = params.get('t');
  const parallelism = params.get('p');
  if (memoryKib === undefined || iterations === undefined || parallelism === undefined) return null;
  return { memoryKib, iterations, parallelism };
}

const withinLimits = (p: Argon2Params): boolean =>
  p.memoryKib <= MAX_STORED.memoryKib && p.iterations <= MAX_STORED.iterations && p.parallelism <= MAX_STORED.parallelism;
