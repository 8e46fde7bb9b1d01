// The JWT signing secret: JWT_SECRET when set, else one generated on first start and kept
// in the database, so tokens survive restarts and every instance signs with the same key.
import { randomToken } from '../../lib/random.js';
import type { Executor } from '../../db/database.js';
import { insertSecretIfAbsent, readSecret } from './app-secrets.repo.js';

const NAME = 'jwt_signing_secret';

export async function resolveSigningSecret(db: Executor, configured: string | undefined): Promise<string> {
  if (configured) return configured;
  // Insert-if-absent then read: instances starting together agree on the first one written.
  await insertSecretIfAbsent(db, NAME, randomToken(48));
  return readSecret(db, NAME);
}
