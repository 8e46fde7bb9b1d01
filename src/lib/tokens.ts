// The one token module: every JWT Keyhold issues or accepts goes through here.
import { createHmac, createSecretKey, randomUUID } from 'node:crypto';
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

const ALGORITHM = 'HS256';
/** Largest tolerated clock skew for an `iat` in the future. */
const MAX_FUTURE_IAT_SECONDS = 60;
/** Header parameters that would let a token pick its own key; never accepted. */
const FORBIDDEN_HEADERS = ['jwk', 'jku', 'x5u', 'x5c', 'kid'] as const;
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
}

export interface IssuedToken {
  token: string;
  jti: string;
  issuedAt: Date;
  expiresAt: Date;
}

export interface TokenServiceOptions {
  secret: string;
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
   *  derivable by whoever holds the parent token and the server secret. */
  childJti(parentJti: string): string;
}

export function createTokenService(options: TokenServiceOptions): TokenService {
  const secret = Buffer.from(options.secret, 'utf8');
  // A Node KeyObject, made once: jose 5 then computes HS256 with node:crypto in a few
  // microseconds, where WebCrypto (jose 6) costs ~100 µs a token, queued on the threadpool
  // behind argon2 (measured with bench/; see the README's performance section).
  const key = createSecretKey(secret);
  const { clock, issuer, audience } = options;
  const verifiedAccessTokens = new VerifiedTokenCache(VERIFIED_ACCESS_TOKENS_KEPT);

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
      const { SignJWT } = jose ?? (await loadJose());
      const token = await new SignJWT(claims)
        .setProtectedHeader({ alg: ALGORITHM, typ: TYP_HEADER[type] })
        .setSubject(subject)
        .setJti(jti)
        .setIssuer(issuer)
        .setAudience(audience)
        .setIssuedAt(iat)
        .setExpirationTime(exp)
        .sign(key);
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
      try {
        // The key is fixed, so a key-selecting header cannot have chosen it; such a token is
        // still refused, once its signature has been checked (one decode, not two).
        const { jwtVerify } = jose ?? (await loadJose());
        const { payload, protectedHeader } = await jwtVerify(token, key, {
          algorithms: [ALGORITHM],
          issuer,
          audience,
          typ: TYP_HEADER[type],
          currentDate: now,
          requiredClaims: ['sub', 'jti', 'iat', 'exp'],
        });
        if (FORBIDDEN_HEADERS.some((name) => name in protectedHeader)) return null;
        if (payload.type !== type) return null;
        if (typeof payload.sub !== 'string' || !UUID.test(payload.sub)) return null;
        if (typeof payload.jti !== 'string' || !JTI.test(payload.jti)) return null;
        if (typeof payload.iat !== 'number' || payload.iat > now.getTime() / 1000 + MAX_FUTURE_IAT_SECONDS) return null;
        if (payload.sid !== undefined && (typeof payload.sid !== 'string' || !UUID.test(payload.sid))) return null;
        if (payload.aal !== undefined && payload.aal !== 'aal1' && payload.aal !== 'aal2') return null;
        if (payload.amr !== undefined && !(Array.isArray(payload.amr) && payload.amr.every((m) => typeof m === 'string'))) return null;
        const claims = Object.freeze(payload) as unknown as TokenClaims;
        if (type === 'access') verifiedAccessTokens.add(token, claims);
        return claims;
      } catch (err) {
        if ((jose !== undefined && err instanceof jose.errors.JOSEError) || err instanceof TypeError || err instanceof SyntaxError) return null;
        throw err;
      }
    },

    childJti(parentJti) {
      return createHmac('sha256', secret).update(`refresh-rotation:${parentJti}`).digest('base64url');
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
 * (HS256 over the exact bytes, then the claims) is the largest CPU cost of GET /auth/me
 * after the database (bench/). So a token that passed is remembered by its exact string, with
 * what can change re-checked on every use: expiry and a future `iat` against the clock here,
 * the session and the user in the database by the caller, as for any token. A token differing
 * in one byte is a different key and is checked in full; nothing that failed is remembered.
 * The signing secret is fixed for the life of the process, so entries cannot outlive it.
 */
class VerifiedTokenCache {
  readonly #claims = new Map<string, TokenClaims>();

  constructor(private readonly capacity: number) {}

  get(token: string, now: Date): TokenClaims | undefined {
    const claims = this.#claims.get(token);
    if (!claims) return undefined;
    const nowSeconds = Math.floor(now.getTime() / 1000);
    if (claims.exp <= nowSeconds || claims.iat > nowSeconds + MAX_FUTURE_IAT_SECONDS) {
      this.#claims.delete(token);
      return undefined;
    }
    return claims;
  }

  add(token: string, claims: TokenClaims): void {
    // Oldest first: a Map iterates in insertion order.
    if (this.#claims.size >= this.capacity) this.#claims.delete(this.#claims.keys().next().value!);
    this.#claims.set(token, claims);
  }
}
