// The password-hash formats Keyhold can check, and what each may cost. `keyhold import` accepts
// a hash only if inspectPasswordHash does (and it is above the import floors), and login
// computes one only if it does, so a hash that cannot be checked is never stored and a planted
// one never makes a login expensive.
//
//   bcrypt   $2a$ / $2b$ / $2y$<cost>$<22-char salt><31-char hash>   (crypt's base64 alphabet)
//   argon2   $argon2id$ / $argon2i$ [v=16|19$] m=…,t=…,p=…$<salt b64>$<hash b64>   (PHC string)
//   passlib  $pbkdf2-sha256$<rounds>$<salt ab64>$<hash ab64>   (ab64: base64 with "." for "+", no padding)
//   Django   pbkdf2_sha256$<iterations>$<salt>$<hash b64>   (salt used as its UTF-8 text)
import { pbkdf2, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const pbkdf2Async = promisify(pbkdf2);

export type PasswordHashFormat = 'argon2' | 'bcrypt' | 'pbkdf2-sha256';

export interface Argon2Params {
  memoryKib: number;
  iterations: number;
  parallelism: number;
}

/** What a stored hash may ask for. bcrypt 13 is about 1 s of bcryptjs, PBKDF2 at 2,000,000
 *  iterations about 0.5 s (Django 5.2 uses 1,000,000); argon2's caps are the 0.1 ones. */
export const STORED_HASH_LIMITS = {
  bcryptCost: 13,
  pbkdf2Iterations: 2_000_000,
  argon2: { memoryKib: 262_144, iterations: 16, parallelism: 16 } satisfies Argon2Params,
} as const;

/**
 * What `keyhold import` requires of a hash, so it never stores one that a copy of the database
 * would give up at once (argon2 with m=1, PBKDF2 with one iteration or no salt). Deliberately
 * below today's recommendations: each floor is at or under the weakest default a widely used
 * library shipped (argon2-cffi 16: m=512 KiB, t=2; NIST SP 800-132: 1,000 PBKDF2 iterations and
 * SP 800-63B: a 32-bit salt; bcrypt 8 is under every library's default of 10 or more), so real
 * exports pass and every imported hash is re-hashed to argon2id at the first login anyway.
 * Login keeps accepting what inspectPasswordHash accepts: a user stored before the floor signs in.
 */
export const IMPORT_HASH_FLOORS = {
  bcryptCost: 8,
  pbkdf2Iterations: 1000,
  pbkdf2SaltBytes: 4,
  /** KiB; and memory × passes at least argon2MemoryPasses. */
  argon2MemoryKib: 512,
  argon2MemoryPasses: 1024,
} as const;

export type HashInspection = { ok: true; format: PasswordHashFormat } | { ok: false; reason: string };

const BCRYPT = /^\$2[aby]\$(\d{2})\$[./A-Za-z0-9]{53}$/;
// m, t and p in any order (libraries differ), each once: parseArgon2Params reads them.
const ARGON2 = /^\$argon2(?:id|i)\$(?:v=(?:16|19)\$)?(?:[mtp]=\d{1,10},){2}[mtp]=\d{1,10}\$[A-Za-z0-9+/]{11,}\$[A-Za-z0-9+/]{16,}$/;
const PASSLIB_PBKDF2 = /^\$pbkdf2-sha256\$(\d{1,10})\$([./A-Za-z0-9]*)\$([./A-Za-z0-9]{43})$/;
const DJANGO_PBKDF2 = /^pbkdf2_sha256\$(\d{1,10})\$([^$]{1,256})\$([A-Za-z0-9+/]{43}=)$/;

/** Which format a stored hash is in and whether its cost is within the limits. */
export function inspectPasswordHash(hash: string): HashInspection {
  const bcrypt = BCRYPT.exec(hash);
  if (bcrypt) {
    const cost = Number(bcrypt[1]);
    if (cost < 4 || cost > 31) return { ok: false, reason: 'malformed bcrypt hash' };
    if (cost > STORED_HASH_LIMITS.bcryptCost) return { ok: false, reason: `bcrypt cost ${cost} is over the limit of ${STORED_HASH_LIMITS.bcryptCost}` };
    return { ok: true, format: 'bcrypt' };
  }
  if (hash.startsWith('$argon2')) {
    const params = ARGON2.test(hash) ? parseArgon2Params(hash) : null;
    if (!params) return { ok: false, reason: 'malformed argon2 hash (argon2id or argon2i PHC string expected)' };
    const limits = STORED_HASH_LIMITS.argon2;
    if (params.memoryKib > limits.memoryKib || params.iterations > limits.iterations || params.parallelism > limits.parallelism) {
      return { ok: false, reason: `argon2 cost m=${params.memoryKib},t=${params.iterations},p=${params.parallelism} is over the limit of m=${limits.memoryKib},t=${limits.iterations},p=${limits.parallelism}` };
    }
    if (params.iterations < 1 || params.parallelism < 1) return { ok: false, reason: 'malformed argon2 hash' };
    return { ok: true, format: 'argon2' };
  }
  const pbkdf2 = PASSLIB_PBKDF2.exec(hash) ?? DJANGO_PBKDF2.exec(hash);
  if (pbkdf2) {
    const iterations = Number(pbkdf2[1]);
    if (iterations < 1) return { ok: false, reason: 'malformed pbkdf2-sha256 hash' };
    if (iterations > STORED_HASH_LIMITS.pbkdf2Iterations) {
      return { ok: false, reason: `pbkdf2-sha256 iterations ${iterations} are over the limit of ${STORED_HASH_LIMITS.pbkdf2Iterations}` };
    }
    return { ok: true, format: 'pbkdf2-sha256' };
  }
  if (/^\$2[abxy]\$|^\$pbkdf2-sha256\$|^pbkdf2_sha256\$/.test(hash)) return { ok: false, reason: 'malformed password hash' };
  return { ok: false, reason: 'unknown password hash format (bcrypt, argon2id, argon2i, passlib $pbkdf2-sha256$ or Django pbkdf2_sha256$ expected)' };
}

/** Why an (inspected, acceptable) hash is too weak to import, or null when it is not. */
export function importFloorReason(hash: string): string | null {
  const floors = IMPORT_HASH_FLOORS;
  const bcrypt = BCRYPT.exec(hash);
  if (bcrypt) {
    const cost = Number(bcrypt[1]);
    return cost < floors.bcryptCost ? `bcrypt cost ${cost} is below the floor of ${floors.bcryptCost}` : null;
  }
  const argon2 = hash.startsWith('$argon2') ? parseArgon2Params(hash) : null;
  if (argon2) {
    const { memoryKib: m, iterations: t } = argon2;
    if (m < floors.argon2MemoryKib) return `argon2 memory m=${m} KiB is below the floor of ${floors.argon2MemoryKib} KiB`;
    if (m * t < floors.argon2MemoryPasses) return `argon2 cost m=${m},t=${t} is below the floor (memory × passes of at least ${floors.argon2MemoryPasses} KiB)`;
    return null;
  }
  const passlib = PASSLIB_PBKDF2.exec(hash);
  const django = passlib ? null : DJANGO_PBKDF2.exec(hash);
  const pbkdf2 = passlib ?? django;
  if (pbkdf2) {
    const iterations = Number(pbkdf2[1]);
    if (iterations < floors.pbkdf2Iterations) return `pbkdf2-sha256 iterations ${iterations} are below the floor of ${floors.pbkdf2Iterations}`;
    const saltBytes = passlib ? fromAb64(pbkdf2[2]!).length : Buffer.byteLength(pbkdf2[2]!, 'utf8');
    if (saltBytes === 0) return 'pbkdf2-sha256 salt is empty';
    if (saltBytes < floors.pbkdf2SaltBytes) return `pbkdf2-sha256 salt of ${saltBytes} bytes is below the floor of ${floors.pbkdf2SaltBytes}`;
  }
  return null;
}

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

/** passlib's "adapted base64": standard base64 with "." for "+" and no padding. */
const fromAb64 = (text: string): Buffer => Buffer.from(text.replace(/\./g, '+'), 'base64');

/** Checks a passlib or Django PBKDF2-SHA256 hash (already inspected), in constant time, off the event loop. */
export async function verifyPbkdf2(hash: string, password: string): Promise<boolean> {
  let iterations: number;
  let salt: Buffer;
  let expected: Buffer;
  const passlib = PASSLIB_PBKDF2.exec(hash);
  if (passlib) {
    iterations = Number(passlib[1]);
    salt = fromAb64(passlib[2]!);
    expected = fromAb64(passlib[3]!);
  } else {
    const django = DJANGO_PBKDF2.exec(hash);
    if (!django) return false;
    iterations = Number(django[1]);
    salt = Buffer.from(django[2]!, 'utf8');
    expected = Buffer.from(django[3]!, 'base64');
  }
  if (expected.length !== 32) return false;
  const actual = await pbkdf2Async(Buffer.from(password, 'utf8'), salt, iterations, 32, 'sha256');
  return timingSafeEqual(actual, expected);
}
