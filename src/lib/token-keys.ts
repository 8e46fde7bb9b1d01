// What the token module signs and verifies with: keys as Node KeyObjects, each pinned to one
// algorithm, and the ring that hands them out. The ring itself (which keys exist, their
// rotation, where they are kept) belongs to modules/keys (key-set.ts); lib/ only knows its shape.
import { createSecretKey, type KeyObject } from 'node:crypto';

export const SIGNING_ALGORITHMS = ['ES256', 'EdDSA', 'RS256', 'HS256'] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

/** A key as the token module uses it: a Node KeyObject and the one algorithm it may be used
 *  with. `kid` is absent only for 0.1's HS256 secret (0.1's tokens had none). */
export interface TokenKey {
  kid?: string;
  alg: SigningAlgorithm;
  key: KeyObject;
  /** Set on a key that may MAC refresh tokens only (the key set's refresh key): a token of any
   *  other type naming it is refused. */
  refreshOnly?: true;
}

/**
 * The keys tokens are signed and checked with (modules/keys keeps them in the database and
 * refreshes this set when another instance rotates or revokes one).
 */
export interface KeyRing {
  /** The key new tokens are signed with. */
  signing(): TokenKey;
  /** The key new refresh tokens are signed with, when it is not signing()'s: refresh tokens are
   *  only ever checked by Keyhold, so in the asymmetric modes an HMAC key serves (key-set.ts). */
  refreshSigning?(): TokenKey | undefined;
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
