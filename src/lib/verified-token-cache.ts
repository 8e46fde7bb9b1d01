// Access tokens whose signature and claims have been checked, kept while the process lives.

/** Largest tolerated clock skew for an `iat` in the future. */
export const MAX_FUTURE_IAT_SECONDS = 60;

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
/** What the cache needs of a token's claims: its times (tokens.ts's TokenClaims has them). */
interface TimedClaims {
  iat: number;
  exp: number;
}

export class VerifiedTokenCache<Claims extends TimedClaims> {
  readonly #claims = new Map<string, Claims>();
  #generation: number;

  constructor(
    private readonly capacity: number,
    private readonly currentGeneration: () => number,
  ) {
    this.#generation = currentGeneration();
  }

  get(token: string, now: Date): Claims | undefined {
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
  add(token: string, claims: Claims, generation: number): void {
    if (generation !== this.#generation || generation !== this.currentGeneration()) return;
    // Oldest first: a Map iterates in insertion order.
    if (this.#claims.size >= this.capacity) this.#claims.delete(this.#claims.keys().next().value!);
    this.#claims.set(token, claims);
  }
}
