// The one token module: every JWT Keyhold issues or accepts goes through here.
import { createHmac, createSecretKey, randomUUID, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import type * as Jose from 'jose';
import type { Clock } from './clock.js';

export type TokenType = 'access' | 'refresh' | 'password_reset' | 'email_verification';

// Distinct `typ` headers as well as the `type` claim: a token of one kind can never be
// replayed where another is expected, even by a verifier that forgets to check the claim.
const TYP_HEADER: Record<TokenType, string> = {
  access: 'at+jwt',
  refresh: 'rt+jwt',
  password_reset: 'reset+jwt',
  email_verification: 'verify+jwt',
};

export const SIGNING_ALGORITHMS = ['ES256', 'EdDSA', 'RS256', 'HS256'] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];
/** Largest tolerated clock skew for an `iat` in the future. */
const MAX_FUTURE_IAT_SECONDS = 60;
/** Header parameters that would let a token bring or point at its own key; never accepted.
 *  (`kid` only names one of the keys Keyhold already holds: see KeyRing.verifier.) */
const FORBIDDEN_HEADERS = ['jwk', 'jku', 'x5u', 'x5c'] as const;
/** Three unpadded base64url segments (RFC 7515 §2), nothing else: no `=`, no `+`/`/`, no spaces. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
// Claim shapes are part of verification: `sub` and `sid` go into uuid columns and `jti` is
// hashed into a lookup key, so a correctly signed token whose claims Keyhold would never have
// issued (minted by hand or by another tool that holds the secret) is refused here, as any
// invalid token is, rather than reaching the database as a value PostgreSQL rejects (a 500).
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
/** Our jtis are UUIDs or base64url HMACs (childJti); 1 to 128 visible ASCII characters admits both. */
const JTI = /^[\x21-\x7e]{1,128}$/;

export interface TokenClaims {
  sub: string;
  jti: string;
  type: TokenType;
  iat: number;
  exp: number;
  /** Session (refresh-token family) the token belongs to; access and refresh tokens only. */
  sid?: string;
  /** Access tokens: the session's assurance level and authentication methods (RFC 8176). */
  aal?: 'aal1' | 'aal2';
  amr?: string[];
  /** Access tokens: the user's account, role in it, and platform role, as at issuance. */
  account_id?: string;
  account_role?: AccountClaims['account_role'];
  role?: AccountClaims['role'];
}

/** What a first-party access token tells a service to scope by (contract: "Client libraries"). */
export interface AccountClaims {
  account_id: string;
  account_role: 'owner' | 'admin' | 'member';
  role: 'engineer' | 'admin';
}

export interface IssuedToken {
  token: string;
  jti: string;
  issuedAt: Date;
  expiresAt: Date;
}

/** A key as the token module uses it: a Node KeyObject (see createTokenService) and the one
 *  algorithm it may be used with. `kid` is absent only for HS256 keys (0.1's tokens had none). */
export interface TokenKey {
  kid?: string;
  alg: SigningAlgorithm;
  key: KeyObject;
}

/**
 * The keys tokens are signed and checked with (modules/keys keeps them in the database and
 * refreshes this set when another instance rotates or revokes one).
 */
export interface KeyRing {
  /** The key new tokens are signed with. */
  signing(): TokenKey;
  /** The key a token whose header names `kid` (or none) must verify with, or undefined when
   *  no such key verifies now. The caller then requires the header's `alg` to be the key's. */
  verifier(kid: string | undefined, now: Date): TokenKey | undefined;
  /** Goes up whenever a key may have stopped verifying (revoked, retired): tokens verified
   *  before are then checked in full again. */
  readonly generation: number;
}

/** 0.1's key ring: one HS256 secret, no `kid` (a token naming one is refused). */
export function hs256KeyRing(secret: string): KeyRing {
  const key: TokenKey = { alg: 'HS256', key: createSecretKey(Buffer.from(secret, 'utf8')) };
  return { signing: () => key, verifier: (kid) => (kid === undefined ? key : undefined), generation: 0 };
}

export interface TokenServiceOptions {
  keys: KeyRing;
  /** The secret of childJti's HMAC: its own, never a signing key (see childJti). */
  refreshRotationSecret: string;
  issuer: string;
  audience: string;
  clock: Clock;
  lifetimesSeconds: Record<TokenType, number>;
}

export interface IssueOptions {
  sid?: string;
  /** Access tokens: how the session's user signed in (from the session row). */
  aal?: 'aal1' | 'aal2';
  amr?: string[];
  /** Access tokens: the user's account claims. */
  account?: AccountClaims;
  jti?: string;
  /** Re-issue a token with an exact issue time (refresh-token grace reissue). */
  issuedAt?: Date;
  expiresAt?: Date;
}

export interface TokenService {
  issue(type: TokenType, subject: string, options?: IssueOptions): Promise<IssuedToken>;
  /** The claims of a valid token of exactly this type, or null. Never throws. */
  verify(token: unknown, type: TokenType): Promise<TokenClaims | null>;
  /** The jti the rotation of refresh token `parentJti` produces: deterministic, and only
   *  derivable by whoever holds the parent token and the server's rotation secret, which no
   *  key rotation changes (so the reuse interval survives every rotation). */
  childJti(parentJti: string): string;
}

export function createTokenService(options: TokenServiceOptions): TokenService {
  // Keys are Node KeyObjects, made once: jose 5 then signs and verifies with node:crypto
  // synchronously (HS256 in a few microseconds), where WebCrypto (jose 6) costs ~100 µs a
  // token, queued on the threadpool behind argon2 (measured with bench/; see the README).
  const rotationSecret = Buffer.from(options.refreshRotationSecret, 'utf8');
  const { clock, issuer, audience, keys } = options;
  const verifiedAccessTokens = new VerifiedTokenCache(VERIFIED_ACCESS_TOKENS_KEPT, () => keys.generation);

  return {
    async issue(type, subject, issueOptions = {}) {
      const issuedAt = issueOptions.issuedAt ?? clock.now();
      const iat = Math.floor(issuedAt.getTime() / 1000);
      const exp = issueOptions.expiresAt
        ? Math.floor(issueOptions.expiresAt.getTime() / 1000)
        : iat + options.lifetimesSeconds[type];
      const jti = issueOptions.jti ?? randomUUID();
      const claims: Record<string, unknown> = { type };
      if (issueOptions.sid) claims.sid = issueOptions.sid;
      if (type === 'access' && issueOptions.aal) claims.aal = issueOptions.aal;
      if (type === 'access' && issueOptions.amr) claims.amr = issueOptions.amr;
      if (type === 'access' && issueOptions.account) {
        claims.account_id = issueOptions.account.account_id;
        claims.account_role = issueOptions.account.account_role;
        claims.role = issueOptions.account.role;
      }
      const signing = keys.signing();
      const { SignJWT } = jose ?? (await loadJose());
      // HS256 keeps 0.1's header exactly ({alg, typ}); the asymmetric keys name themselves.
      const header = signing.kid === undefined ? { alg: signing.alg, typ: TYP_HEADER[type] } : { alg: signing.alg, kid: signing.kid, typ: TYP_HEADER[type] };
      const token = signing.kid !== undefined
        ? signAsymmetric(header, { ...claims, sub: subject, jti, iss: issuer, aud: audience, iat, exp }, signing)
        : await new SignJWT(claims)
        .setProtectedHeader(header)
        .setSubject(subject)
        .setJti(jti)
        .setIssuer(issuer)
        .setAudience(audience)
        .setIssuedAt(iat)
        .setExpirationTime(exp)
        .sign(signing.key);
      return { token, jti, issuedAt: new Date(iat * 1000), expiresAt: new Date(exp * 1000) };
    },

    async verify(token, type) {
      if (typeof token !== 'string' || token.length === 0 || token.length > 4096) return null;
      const now = clock.now();
      if (type === 'access') {
        const verified = verifiedAccessTokens.get(token, now);
        if (verified) return verified;
      }
      if (!isCanonicalCompactJws(token)) return null;
      const { decodeProtectedHeader, jwtVerify, errors: joseErrors } = jose ?? (await loadJose());
      try {
        // The header picks a key only by `kid`, among the keys Keyhold holds, and the key
        // fixes the algorithm: an HS256 token "signed" with a public key finds no HS256 key
        // under that kid (and without a kid only the 0.1 secret, when one is still accepted).
        const header = decodeProtectedHeader(token);
        if (FORBIDDEN_HEADERS.some((name) => name in header)) return null;
        if (header.kid !== undefined && typeof header.kid !== 'string') return null;
        const generation = keys.generation;
        const verifier = keys.verifier(header.kid, now);
        if (!verifier || header.alg !== verifier.alg) return null;
        const claimRules = { issuer, audience, currentDate: now, requiredClaims: ['sub', 'jti', 'iat', 'exp'] };
        const { payload } =
          verifier.alg === 'HS256'
            ? await jwtVerify(token, verifier.key, { ...claimRules, algorithms: ['HS256'], typ: TYP_HEADER[type] })
            : verifyAsymmetric(token, header, verifier, TYP_HEADER[type], claimRules);
        if (!payload) return null;
        if (payload.type !== type) return null;
        if (typeof payload.sub !== 'string' || !UUID.test(payload.sub)) return null;
        if (typeof payload.jti !== 'string' || !JTI.test(payload.jti)) return null;
        if (typeof payload.iat !== 'number' || payload.iat > now.getTime() / 1000 + MAX_FUTURE_IAT_SECONDS) return null;
        if (payload.sid !== undefined && (typeof payload.sid !== 'string' || !UUID.test(payload.sid))) return null;
        if (payload.aal !== undefined && payload.aal !== 'aal1' && payload.aal !== 'aal2') return null;
        if (payload.amr !== undefined && !(Array.isArray(payload.amr) && payload.amr.every((m) => typeof m === 'string'))) return null;
        const claims = Object.freeze(payload) as unknown as TokenClaims;
        if (type === 'access') verifiedAccessTokens.add(token, claims, generation);
        return claims;
      } catch (err) {
        if (err instanceof joseErrors.JOSEError || err instanceof TypeError || err instanceof SyntaxError) return null;
        throw err;
      }
    },

    childJti(parentJti) {
      return createHmac('sha256', rotationSecret).update(`refresh-rotation:${parentJti}`).digest('base64url');
    },
  };
}

// jose (83 modules, ~50 ms to load) is loaded by the first token issued or checked, not at
// start: /healthz, /readyz and the docs never need it. Once loaded it is used synchronously.
let jose: typeof Jose | undefined;
async function loadJose(): Promise<typeof Jose> {
  jose ??= await import('jose');
  return jose;
}

/**
 * jose 5 signs and verifies asymmetric JWS with node:crypto's callback form, i.e. on the libuv
 * threadpool, queued behind argon2 (the cost WebCrypto has, README: performance), and with a
 * thread hop per token. Node's one-shot sign/verify are synchronous and take the same
 * KeyObjects, so the signature step is done here; everything else stays jose's: the claims
 * (iss, aud, exp, nbf, iat, required claims) go through UnsecuredJWT.decode's validator, fed
 * the already-verified payload. ES256 signatures are IEEE P1363 (r || s), as RFC 7518 requires.
 */
const NODE_DIGEST: Record<Exclude<SigningAlgorithm, 'HS256'>, string | null> = { ES256: 'sha256', RS256: 'sha256', EdDSA: null };
const UNSECURED_HEADER = Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url');

const nodeKeyInput = (key: TokenKey) => (key.alg === 'ES256' ? { key: key.key, dsaEncoding: 'ieee-p1363' as const } : key.key);

function signAsymmetric(header: Record<string, unknown>, claims: Record<string, unknown>, key: TokenKey): string {
  const data = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  const signature = cryptoSign(NODE_DIGEST[key.alg as Exclude<SigningAlgorithm, 'HS256'>], Buffer.from(data), nodeKeyInput(key));
  return `${data}.${signature.toString('base64url')}`;
}

function verifyAsymmetric(
  token: string,
  header: Record<string, unknown>,
  key: TokenKey,
  typ: string,
  claimRules: { issuer: string; audience: string; currentDate: Date; requiredClaims: string[] },
): { payload: Record<string, unknown> | null } {
  // What jwtVerify refuses in a header: an unexpected typ, crit (no extension is understood), b64.
  if (header.typ !== typ || 'crit' in header || 'b64' in header) return { payload: null };
  const firstDot = token.indexOf('.');
  const lastDot = token.lastIndexOf('.');
  let valid = false;
  try {
    valid = cryptoVerify(
      NODE_DIGEST[key.alg as Exclude<SigningAlgorithm, 'HS256'>],
      Buffer.from(token.slice(0, lastDot)),
      nodeKeyInput(key),
      Buffer.from(token.slice(lastDot + 1), 'base64url'),
    );
  } catch {
    // A signature of the wrong length or shape (OpenSSL refuses to parse it) is a bad one.
  }
  if (!valid) return { payload: null };
  const { payload } = jose!.UnsecuredJWT.decode(`${UNSECURED_HEADER}.${token.slice(firstDot + 1, lastDot)}.`, claimRules);
  return { payload: payload as Record<string, unknown> };
}

/**
 * One token, one spelling. Base64 decoders (Node's, and so jose's) skip padding and take the
 * standard alphabet too, and the last character of a segment carries unused bits that they
 * ignore: without this check one signed token has many accepted spellings, each a different
 * string to the verified-token cache and to anything that compares or logs tokens. A segment
 * is canonical when decoding and re-encoding it gives it back unchanged.
 */
function isCanonicalCompactJws(token: string): boolean {
  if (!COMPACT_JWS.test(token)) return false;
  return token.split('.').every((segment) => Buffer.from(segment, 'base64url').toString('base64url') === segment);
}

/** Access tokens whose signature and claims have been checked, kept while the process lives. */
const VERIFIED_ACCESS_TOKENS_KEPT = 10_000;

/**
 * A client presents the same access token on every request for its 15 minutes, and checking it
 * (the signature over the exact bytes, then the claims) is the largest CPU cost of GET /auth/me
 * after the database (bench/); an ES256 verify is ~20 times an HS256 one. So a token that
 * passed is remembered by its exact string, with what can change re-checked on every use:
 * expiry and a future `iat` against the clock here, the session and the user in the database
 * by the caller, as for any token. A token differing in one byte is a different key and is
 * checked in full; nothing that failed is remembered. When the key ring's generation moves (a
 * key revoked or retired, on this instance or, seen by polling, another) everything is
 * forgotten at once, so a revoked key's tokens are never served from here.
 */
class VerifiedTokenCache {
  readonly #claims = new Map<string, TokenClaims>();
  #generation: number;

  constructor(
    private readonly capacity: number,
    private readonly currentGeneration: () => number,
  ) {
    this.#generation = currentGeneration();
  }

  get(token: string, now: Date): TokenClaims | undefined {
    const generation = this.currentGeneration();
    if (generation !== this.#generation) {
      this.#claims.clear();
      this.#generation = generation;
      return undefined;
    }
    const claims = this.#claims.get(token);
    if (!claims) return undefined;
    const nowSeconds = Math.floor(now.getTime() / 1000);
    if (claims.exp <= nowSeconds || claims.iat > nowSeconds + MAX_FUTURE_IAT_SECONDS) {
      this.#claims.delete(token);
      return undefined;
    }
    return claims;
  }

  /** `generation`: the key ring's when the check began; a key revoked meanwhile keeps it out. */
  add(token: string, claims: TokenClaims, generation: number): void {
    if (generation !== this.#generation || generation !== this.currentGeneration()) return;
    // Oldest first: a Map iterates in insertion order.
    if (this.#claims.size >= this.capacity) this.#claims.delete(this.#claims.keys().next().value!);
    this.#claims.set(token, claims);
  }
}
