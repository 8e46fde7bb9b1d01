// Compact JWS (RFC 7515) signed and checked with node:crypto's one-shot, synchronous sign,
// verify and HMAC, on the token module's KeyObjects. jose 5 does the asymmetric algorithms with
// node:crypto's callback form, i.e. on the libuv threadpool, queued behind argon2 (the cost
// WebCrypto has, README: performance), with a thread hop per token. Only the signature step is
// done here; everything else stays jose's: the claims (iss, aud, exp, nbf, iat, required claims)
// go through UnsecuredJWT.decode's validator, fed the already-verified payload. ES256 signatures
// are IEEE P1363 (r || s), as RFC 7518 requires.
//
// (0.1's HS256 tokens, without a kid, are still made and checked by jose itself, byte for byte
// as 0.1 did: see tokens.ts.)
import { createHmac, sign as cryptoSign, timingSafeEqual, verify as cryptoVerify } from 'node:crypto';
import type * as Jose from 'jose';
import type { SigningAlgorithm, TokenKey } from './token-keys.js';

// jose (83 modules, ~50 ms to load) is loaded by the first token issued or checked, not at
// start: /healthz, /readyz and the docs never need it. Once loaded it is used synchronously.
let jose: typeof Jose | undefined;
export async function loadJose(): Promise<typeof Jose> {
  jose ??= await import('jose');
  return jose;
}
/** jose once loadJose() has resolved, else undefined (callers then await loadJose()). */
export const joseIfLoaded = (): typeof Jose | undefined => jose;

/** Three unpadded base64url segments (RFC 7515 §2), nothing else: no `=`, no `+`/`/`, no spaces. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

const NODE_DIGEST: Record<SigningAlgorithm, string | null> = { ES256: 'sha256', RS256: 'sha256', EdDSA: null, HS256: 'sha256' };
const UNSECURED_HEADER = Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url');

const nodeKeyInput = (key: TokenKey) => (key.alg === 'ES256' ? { key: key.key, dsaEncoding: 'ieee-p1363' as const } : key.key);

function signature(key: TokenKey, data: Buffer): Buffer {
  if (key.alg === 'HS256') return createHmac('sha256', key.key).update(data).digest();
  return cryptoSign(NODE_DIGEST[key.alg], data, nodeKeyInput(key));
}

export function signCompact(header: Record<string, unknown>, claims: Record<string, unknown>, key: TokenKey): string {
  const data = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  return `${data}.${signature(key, Buffer.from(data)).toString('base64url')}`;
}

export interface ClaimRules {
  issuer: string;
  audience: string;
  currentDate: Date;
  requiredClaims: string[];
}

/** How verifyCompact checks a token: its decoded protected `header`, the `key` it must be signed
 *  with, the `typ` the header must carry, and the claims' rules. */
export interface CompactVerification {
  header: Record<string, unknown>;
  key: TokenKey;
  typ: string;
  claimRules: ClaimRules;
}

/** The claims of `token` when its signature is `key`'s and its header and claims pass, else null
 *  (jose's errors, e.g. JWTExpired, are thrown as jwtVerify throws them). jose must be loaded. */
export function verifyCompact(token: string, { header, key, typ, claimRules }: CompactVerification): Record<string, unknown> | null {
  // What jwtVerify refuses in a header: an unexpected typ, crit (no extension is understood), b64.
  if (header.typ !== typ || 'crit' in header || 'b64' in header) return null;
  const firstDot = token.indexOf('.');
  const lastDot = token.lastIndexOf('.');
  const data = Buffer.from(token.slice(0, lastDot));
  const presented = Buffer.from(token.slice(lastDot + 1), 'base64url');
  let valid = false;
  try {
    if (key.alg === 'HS256') {
      const expected = signature(key, data);
      valid = presented.length === expected.length && timingSafeEqual(presented, expected);
    } else {
      valid = cryptoVerify(NODE_DIGEST[key.alg], data, nodeKeyInput(key), presented);
    }
  } catch {
    // A signature of the wrong length or shape (OpenSSL refuses to parse it) is a bad one.
  }
  if (!valid) return null;
  const { payload } = jose!.UnsecuredJWT.decode(`${UNSECURED_HEADER}.${token.slice(firstDot + 1, lastDot)}.`, claimRules);
  return payload as Record<string, unknown>;
}

/**
 * One token, one spelling. Base64 decoders (Node's, and so jose's) skip padding and take the
 * standard alphabet too, and the last character of a segment carries unused bits that they
 * ignore: without this check one signed token has many accepted spellings, each a different
 * string to the verified-token cache and to anything that compares or logs tokens. A segment
 * is canonical when decoding and re-encoding it gives it back unchanged.
 */
export function isCanonicalCompactJws(token: string): boolean {
  if (!COMPACT_JWS.test(token)) return false;
  return token.split('.').every((segment) => Buffer.from(segment, 'base64url').toString('base64url') === segment);
}
