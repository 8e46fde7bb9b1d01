// The one token module: every JWT Keyhold issues or accepts goes through here.
// Split by concern: the keys' shape (token-keys.ts), the node:crypto JWS steps (jws.ts) and the
// verified-token cache (verified-token-cache.ts); the keys themselves are modules/keys' key set.
import { createHmac, randomUUID } from 'node:crypto';
import type { Clock } from './clock.js';
import { isCanonicalCompactJws, joseIfLoaded, loadJose, signCompact, verifyCompact } from './jws.js';
import type { KeyRing } from './token-keys.js';
import { MAX_FUTURE_IAT_SECONDS, VerifiedTokenCache } from './verified-token-cache.js';

export { hs256KeyRing, SIGNING_ALGORITHMS, type KeyRing, type SigningAlgorithm, type TokenKey } from './token-keys.js';

export type TokenType = 'access' | 'refresh' | 'password_reset' | 'email_verification';

// Distinct `typ` headers as well as the `type` claim: a token of one kind can never be
// replayed where another is expected, even by a verifier that forgets to check the claim.
const TYP_HEADER: Record<TokenType, string> = {
  access: 'at+jwt',
  refresh: 'rt+jwt',
  password_reset: 'reset+jwt',
  email_verification: 'verify+jwt',
};

/** Header parameters that would let a token bring or point at its own key; never accepted.
 *  (`kid` only names one of the keys Keyhold already holds: see KeyRing.verifier.) */
const FORBIDDEN_HEADERS = ['jwk', 'jku', 'x5u', 'x5c'] as const;
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

export type TokenCheck = { claims: TokenClaims } | { claims: null; expired: boolean };

const INVALID: TokenCheck = Object.freeze({ claims: null, expired: false });
const EXPIRED: TokenCheck = Object.freeze({ claims: null, expired: true });

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
  /** As verify, but says why a token failed: `expired` only for a token that is valid in every
   *  other way checked before its expiry (signature, header, issuer, audience). */
  check(token: unknown, type: TokenType): Promise<TokenCheck>;
  /** The jti the rotation of refresh token `parentJti` produces: deterministic, and only
   *  derivable by whoever holds the parent token and the server's rotation secret, which no
   *  key rotation changes (so the reuse interval survives every rotation). */
  childJti(parentJti: string): string;
}

export function createTokenService(options: TokenServiceOptions): TokenService {
  // Keys are Node KeyObjects, made once: signatures are node:crypto's, synchronous (HS256 in a
  // few microseconds), where WebCrypto (jose 6) costs ~100 µs a token, queued on the threadpool
  // behind argon2 (measured with bench/; see the README).
  const rotationSecret = Buffer.from(options.refreshRotationSecret, 'utf8');
  const { clock, issuer, audience, keys } = options;
  const verifiedAccessTokens = new VerifiedTokenCache<TokenClaims>(VERIFIED_ACCESS_TOKENS_KEPT, () => keys.generation);

  const service: TokenService = {
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
      // Refresh tokens are checked only by Keyhold: the key set may give them an HMAC key of
      // their own (cheaper than an asymmetric signature; see modules/keys/key-set.ts).
      const signing = (type === 'refresh' && keys.refreshSigning?.()) || keys.signing();
      const header = signing.kid === undefined ? { alg: signing.alg, typ: TYP_HEADER[type] } : { alg: signing.alg, kid: signing.kid, typ: TYP_HEADER[type] };
      let token: string;
      if (signing.kid !== undefined) {
        token = signCompact(header, { ...claims, sub: subject, jti, iss: issuer, aud: audience, iat, exp }, signing);
      } else {
        // 0.1's HS256 secret: jose makes the token exactly as 0.1 did ({alg, typ}, no kid).
        const { SignJWT } = joseIfLoaded() ?? (await loadJose());
        token = await new SignJWT(claims)
          .setProtectedHeader(header)
          .setSubject(subject)
          .setJti(jti)
          .setIssuer(issuer)
          .setAudience(audience)
          .setIssuedAt(iat)
          .setExpirationTime(exp)
          .sign(signing.key);
      }
      return { token, jti, issuedAt: new Date(iat * 1000), expiresAt: new Date(exp * 1000) };
    },

    async verify(token, type) {
      return (await service.check(token, type)).claims;
    },

    async check(token, type) {
      if (typeof token !== 'string' || token.length === 0 || token.length > 4096) return INVALID;
      const now = clock.now();
      if (type === 'access') {
        const verified = verifiedAccessTokens.get(token, now);
        if (verified) return { claims: verified };
      }
      if (!isCanonicalCompactJws(token)) return INVALID;
      const { decodeProtectedHeader, jwtVerify, errors: joseErrors } = joseIfLoaded() ?? (await loadJose());
      try {
        // The header picks a key only by `kid`, among the keys Keyhold holds, and the key
        // fixes the algorithm: an HS256 token "signed" with a public key finds no HS256 key
        // under that kid (and without a kid only the 0.1 secret, when one is still accepted).
        const header = decodeProtectedHeader(token);
        if (FORBIDDEN_HEADERS.some((name) => name in header)) return INVALID;
        if (header.kid !== undefined && typeof header.kid !== 'string') return INVALID;
        const generation = keys.generation;
        const verifier = keys.verifier(header.kid, now);
        if (!verifier || header.alg !== verifier.alg) return INVALID;
        if (verifier.refreshOnly && type !== 'refresh') return INVALID;
        const claimRules = { issuer, audience, currentDate: now, requiredClaims: ['sub', 'jti', 'iat', 'exp'] };
        const payload =
          verifier.kid === undefined
            ? (await jwtVerify(token, verifier.key, { ...claimRules, algorithms: ['HS256'], typ: TYP_HEADER[type] })).payload
            : verifyCompact(token, { header, key: verifier, typ: TYP_HEADER[type], claimRules });
        if (!payload) return INVALID;
        if (payload.type !== type) return INVALID;
        if (typeof payload.sub !== 'string' || !UUID.test(payload.sub)) return INVALID;
        if (typeof payload.jti !== 'string' || !JTI.test(payload.jti)) return INVALID;
        if (typeof payload.iat !== 'number' || payload.iat > now.getTime() / 1000 + MAX_FUTURE_IAT_SECONDS) return INVALID;
        if (payload.sid !== undefined && (typeof payload.sid !== 'string' || !UUID.test(payload.sid))) return INVALID;
        if (payload.aal !== undefined && payload.aal !== 'aal1' && payload.aal !== 'aal2') return INVALID;
        if (payload.amr !== undefined && !(Array.isArray(payload.amr) && payload.amr.every((m) => typeof m === 'string'))) return INVALID;
        const claims = Object.freeze(payload) as unknown as TokenClaims;
        if (type === 'access') verifiedAccessTokens.add(token, claims, generation);
        return { claims };
      } catch (err) {
        // jose checks the expiry after the signature, the header and iss/aud: an expired token is
        // otherwise one Keyhold issued.
        if (err instanceof joseErrors.JWTExpired) return EXPIRED;
        if (err instanceof joseErrors.JOSEError || err instanceof TypeError || err instanceof SyntaxError) return INVALID;
        throw err;
      }
    },

    childJti(parentJti) {
      return createHmac('sha256', rotationSecret).update(`refresh-rotation:${parentJti}`).digest('base64url');
    },
  };
  return service;
}

/** Access tokens whose signature and claims have been checked, kept while the process lives. */
const VERIFIED_ACCESS_TOKENS_KEPT = 10_000;
