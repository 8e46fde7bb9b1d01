// The key set: everything Keyhold signs and verifies tokens with, behind one object that app.ts
// only wires. It chooses the mode (JWT_ALGORITHM), holds the keys (signing with the current key,
// verifying by `kid`), the refresh tokens' HMAC key and the refresh-rotation secret, makes the
// token service with the configured lifetimes, hands the OpenID Provider the same keys, and
// runs its periodic task (rotation when due, deletion of retired keys).
//
// - HS256 mode is 0.1's, byte for byte: one secret (JWT_SECRET, else generated once and kept),
//   no kid, nothing rotates.
// - The asymmetric modes keep the keys in signing_keys (keys.service.ts, key-ring.ts): a current
//   and a next key of JWT_ALGORITHM, plus an RS256 pair while the OpenID Provider is on; 0.1's
//   secret is accepted only for tokens from before the upgrade; refresh tokens are MACed with
//   a key of their own (refresh-token-key.ts).
import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../../config.js';
import type { Db } from '../../db/database.js';
import type { Clock } from '../../lib/clock.js';
import type { SecretBox } from '../../lib/secret-box.js';
import { hs256KeyRing, type KeyRing, type TokenKey } from '../../lib/token-keys.js';
import { createTokenService, type TokenService } from '../../lib/tokens.js';
import { loadSigningKeyRing, type ProviderKeys, type SigningKeyRing } from './key-ring.js';
import { ensureSigningKeys, maintainSigningKeys } from './keys.service.js';
import { findLegacySigningSecret, resolveSigningSecret } from './legacy-secret.js';
import { resolveRefreshRotationSecret } from './refresh-rotation-secret.js';
import { loadRefreshTokenKey } from './refresh-token-key.js';
import { tokenLifetimesSeconds } from './token-lifetimes.js';

export type { ProviderKeys } from './key-ring.js';
export { tokenLifetimesSeconds } from './token-lifetimes.js';

export interface KeySet extends KeyRing {
  /** Issues and checks every token Keyhold makes, with this set's keys. */
  readonly tokens: TokenService;
  /** The OpenID Provider's keys (the asymmetric modes only; config.ts refuses the provider in HS256 mode). */
  providerKeys(): ProviderKeys;
  /** Whether the keys rotate (the asymmetric modes): only then is maintain() scheduled. */
  readonly rotates: boolean;
  /** The periodic task: rotates when due, deletes retired keys, and reloads when it changed anything. */
  maintain(): Promise<void>;
  /** Polls for changes made by other instances (and the CLI) from now on; stop() ends it. */
  start(): void;
  stop(): void;
}

export interface KeySetDeps {
  db: Db;
  secrets: SecretBox;
  config: Readonly<Config>;
  clock: Clock;
  log: FastifyBaseLogger;
}

export async function openKeySet(deps: KeySetDeps): Promise<KeySet> {
  const { db, secrets, config, clock } = deps;
  let ring: KeyRing;
  let signingKeys: SigningKeyRing | undefined;
  if (config.jwtAlgorithm === 'HS256') {
    ring = hs256KeyRing(await resolveSigningSecret(db, config.jwtSecret));
  } else {
    const legacySecret = await findLegacySigningSecret(db, config.jwtSecret);
    await ensureSigningKeys({ db, clock, config, secrets }, legacySecret !== undefined);
    const refreshKey = await loadRefreshTokenKey(db, secrets);
    signingKeys = await loadSigningKeyRing({ db, secrets, log: deps.log, alg: config.jwtAlgorithm, refreshKey, legacySecret });
    ring = signingKeys;
  }
  const tokens = createTokenService({
    keys: ring,
    refreshRotationSecret: await resolveRefreshRotationSecret(db, secrets, config.jwtSecret),
    issuer: config.jwtIssuer,
    audience: config.jwtAudience,
    clock,
    lifetimesSeconds: tokenLifetimesSeconds(config),
  });
  return {
    tokens,
    rotates: signingKeys !== undefined,
    signing: () => ring.signing(),
    refreshSigning: (): TokenKey | undefined => ring.refreshSigning?.(),
    verifier: (kid, now) => ring.verifier(kid, now),
    get generation() {
      return ring.generation;
    },
    providerKeys() {
      if (!signingKeys) throw new Error('the OpenID Provider needs an asymmetric JWT_ALGORITHM');
      return signingKeys.providerKeys();
    },
    async maintain() {
      if (signingKeys && (await maintainSigningKeys({ db, clock, config, secrets }))) await signingKeys.refresh();
    },
    start: () => signingKeys?.start(),
    stop: () => signingKeys?.stop(),
  };
}
