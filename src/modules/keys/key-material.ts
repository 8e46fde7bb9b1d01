// Key pairs for the asymmetric algorithms, made and read with node:crypto as KeyObjects
// (jose 5 then signs and verifies synchronously with them; see lib/tokens.ts).
import { createPrivateKey, createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { calculateJwkThumbprint } from 'jose';

export type AsymmetricAlgorithm = 'ES256' | 'EdDSA' | 'RS256';

/** What a JWKS may show of a key: the public members only (RFC 7517/7518/8037). */
export interface PublicJwk {
  kty: string;
  kid: string;
  alg: AsymmetricAlgorithm;
  use: 'sig';
  crv?: string;
  x?: string;
  y?: string;
  n?: string;
  e?: string;
}

export interface NewKeyPair {
  kid: string;
  alg: AsymmetricAlgorithm;
  publicJwk: PublicJwk;
  /** PKCS#8 PEM: to be sealed before it is stored. */
  privatePem: string;
}

const generate = promisify(generateKeyPair);

async function generatePair(alg: AsymmetricAlgorithm): Promise<{ publicKey: KeyObject; privateKey: KeyObject }> {
  if (alg === 'ES256') return generate('ec', { namedCurve: 'P-256' });
  if (alg === 'EdDSA') return generate('ed25519');
  return generate('rsa', { modulusLength: 2048, publicExponent: 0x10001 });
}

export async function createKeyPair(alg: AsymmetricAlgorithm): Promise<NewKeyPair> {
  const { publicKey, privateKey } = await generatePair(alg);
  const publicJwk = pickPublicMembers(publicKey.export({ format: 'jwk' }) as Record<string, unknown>);
  // The RFC 7638 thumbprint: stable, derived from the public key, nothing to collide with.
  const kid = await calculateJwkThumbprint(publicJwk as never, 'sha256');
  return {
    kid,
    alg,
    publicJwk: { ...publicJwk, kid, alg, use: 'sig' },
    privatePem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
  };
}

/** Only the members a public key has, whatever the exporter adds: never `d`, `p`, `q`, … */
function pickPublicMembers(jwk: Record<string, unknown>): { kty: string; crv?: string; x?: string; y?: string; n?: string; e?: string } {
  const out: Record<string, string> = { kty: String(jwk.kty) };
  for (const name of ['crv', 'x', 'y', 'n', 'e']) if (typeof jwk[name] === 'string') out[name] = jwk[name] as string;
  return out as { kty: string };
}

export const privateKeyFromPem = (pem: string): KeyObject => createPrivateKey(pem);

export function publicKeyFromJwk(jwk: PublicJwk): KeyObject {
  return createPublicKey({ key: pickPublicMembers(jwk as unknown as Record<string, unknown>) as never, format: 'jwk' });
}
