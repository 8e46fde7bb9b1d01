// The provider signs with the one key ring of modules/keys. This is the one narrow place that
// reads it: the live keys with a private half, as private JWKs, the current key first (the
// provider signs with the first key of an algorithm). When the key set moves (a rotation or a
// revocation, seen by the key ring's poll), provider.ts builds the provider again with these.
// (Issue 25 consolidates the key set into one object; only this file needs re-pointing.)
import { createPrivateKey } from 'node:crypto';
import type { JWK } from 'jose';
import type { AppContext } from '../../context.js';
import { listLiveKeys } from '../../modules/keys/keys.repo.js';

export interface ProviderKeys {
  /** Private JWKs, current first. */
  keys: JWK[];
  /** The algorithm of the current key: the default for ID tokens and access tokens. */
  alg: string;
}

export async function providerSigningKeys(ctx: Pick<AppContext, 'db' | 'secrets'>): Promise<ProviderKeys> {
  const rows = (await listLiveKeys(ctx.db)).filter((row) => row.private_key !== null && row.state !== 'next');
  rows.sort((a, b) => (a.state === 'current' ? -1 : b.state === 'current' ? 1 : 0));
  const current = rows[0];
  if (!current || current.state !== 'current') throw new Error('no current signing key (run keyhold keys rotate)');
  const keys = rows.map((row) => {
    const pem = ctx.secrets.open(row.private_key!, `signing-key:${row.kid}`);
    const jwk = createPrivateKey(pem).export({ format: 'jwk' }) as JWK;
    return { ...jwk, kid: row.kid, alg: row.alg, use: 'sig' };
  });
  return { keys, alg: current.alg };
}
