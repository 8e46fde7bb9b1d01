// The JWT signing secret: JWT_SECRET when set, else one generated on first start and kept
// in the database, so tokens survive restarts and every instance signs with the same key.
import { randomToken } from '../../lib/random.js';
import type { Executor } from '../../db/database.js';
import { insertSecretIfAbsent, readSecret, readSecretIfPresent } from './app-secrets.repo.js';

export const LEGACY_SECRET_NAME = 'jwt_signing_secret';
const NAME = LEGACY_SECRET_NAME;

export async function resolveSigningSecret(db: Executor, configured: string | undefined): Promise<string> {
  if (configured) return configured;
  // Insert-if-absent then read: instances starting together agree on the first one written.
  await insertSecretIfAbsent(db, NAME, randomToken(48));
  return readSecret(db, NAME);
}

/** 0.1's HS256 secret where there is one (JWT_SECRET, else the generated one), never made here:
 *  in the asymmetric modes it only verifies tokens from before the upgrade. */
export async function findLegacySigningSecret(db: Executor, configured: string | undefined): Promise<string | undefined> {
  return configured ?? (await readSecretIfPresent(db, NAME));
}
