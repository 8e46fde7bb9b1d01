// createVerifier: checks a Keyhold access token locally, from the server's JWKS.
//
// jose's remote key set fetches the JWKS once, keeps it (cacheMaxAge), and fetches it again
// when a token names a key it does not know (at most once per cooldown), so a key rotated in
// on the server is picked up by the first token it signs, and a revoked key is forgotten when
// the cache ages out (5 minutes by default, the JWKS's own Cache-Control max-age).
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';

export interface VerifierOptions {
  /** The token issuer (the server's JWT_ISSUER, or PUBLIC_URL with the provider on). */
  issuer: string;
  /** The expected audience (JWT_AUDIENCE; for provider tokens, the resource). */
  audience: string | string[];
  /** Default `<issuer>/.well-known/jwks.json` when the issuer is a URL. */
  jwksUri?: string;
  /** How long a fetched key set is trusted. Default 300 s. */
  cacheMaxAgeSeconds?: number;
  /** The least time between two fetches for unknown `kid`s (a flood of forged kids cannot
   *  turn into a flood of JWKS requests). Default 5 s. */
  refetchCooldownSeconds?: number;
  clockToleranceSeconds?: number;
}

export type AccountRole = 'owner' | 'admin' | 'member';

/** The claims of a verified Keyhold access token. */
export interface KeyholdClaims extends JWTPayload {
  sub: string;
  aal?: 'aal1' | 'aal2';
  amr?: string[];
  /** First-party tokens (and provider tokens with the `account` scope). */
  account_id?: string;
  account_role?: AccountRole;
  /** The platform role: `engineer` or `admin`. */
  role?: string;
  /** Provider tokens (RFC 9068). */
  client_id?: string;
  scope?: string;
}

/** Why a token was refused: `token_missing`, `token_expired` or `invalid_token`. */
export class TokenRejected extends Error {
  constructor(
    readonly code: 'token_missing' | 'token_expired' | 'invalid_token',
    message: string,
  ) {
    super(message);
    this.name = 'TokenRejected';
  }
}

export interface Verifier {
  /** The token's claims, or a TokenRejected. */
  verify(token: string | undefined | null): Promise<KeyholdClaims>;
}

const ASYMMETRIC = ['ES256', 'EdDSA', 'RS256'];

export function createVerifier(options: VerifierOptions): Verifier {
  const jwksUri = options.jwksUri ?? defaultJwksUri(options.issuer);
  const keys = createRemoteJWKSet(new URL(jwksUri), { cacheMaxAge: (options.cacheMaxAgeSeconds ?? 300) * 1000, cooldownDuration: (options.refetchCooldownSeconds ?? 5) * 1000 });
  const rules = {
    issuer: options.issuer,
    audience: options.audience,
    typ: 'at+jwt',
    algorithms: ASYMMETRIC,
    clockTolerance: options.clockToleranceSeconds ?? 0,
    requiredClaims: ['sub', 'exp', 'iat'],
  };
  return {
    async verify(token) {
      if (!token) throw new TokenRejected('token_missing', 'No bearer token');
      try {
        const { payload } = await jwtVerify(token, keys, rules);
        return payload as KeyholdClaims;
      } catch (err) {
        if (err instanceof errors.JWTExpired) throw new TokenRejected('token_expired', 'The access token expired');
        if (err instanceof errors.JOSEError) throw new TokenRejected('invalid_token', err.message);
        throw err; // the key set could not be fetched: not the token's fault
      }
    },
  };
}

function defaultJwksUri(issuer: string): string {
  if (!/^https?:\/\//.test(issuer)) throw new Error(`createVerifier: the issuer "${issuer}" is not a URL; pass jwksUri`);
  return `${issuer.replace(/\/+$/, '')}/.well-known/jwks.json`;
}

/** The bearer token of an Authorization header, or undefined. */
export function bearerToken(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(value ?? '');
  return match?.[1];
}

const ROLE_RANK: Record<AccountRole, number> = { member: 1, admin: 2, owner: 3 };

/** Whether the claims meet an assurance level (aal2 also meets aal1). */
export function meetsAal(claims: KeyholdClaims, level: 'aal1' | 'aal2'): boolean {
  return level === 'aal1' || claims.aal === 'aal2';
}

/** Whether the claims hold at least this account role (owner > admin > member). */
export function meetsAccountRole(claims: KeyholdClaims, role: AccountRole): boolean {
  const held = claims.account_role;
  return held !== undefined && ROLE_RANK[held] >= ROLE_RANK[role];
}

/** The replies both framework adapters send, in Keyhold's own error shape. */
export function unauthorized(rejected: TokenRejected): { status: 401; headers: Record<string, string>; body: { detail: string; code: string } } {
  const challenge = rejected.code === 'token_missing' ? 'Bearer' : `Bearer error="invalid_token", error_description="${rejected.code === 'token_expired' ? 'The access token expired' : 'The access token is invalid'}"`;
  return { status: 401, headers: { 'www-authenticate': challenge }, body: { detail: 'Could not validate credentials', code: rejected.code } };
}

export const forbidden = (code: 'insufficient_aal' | 'insufficient_role') => ({ status: 403 as const, body: { detail: 'Not enough permissions', code } });
