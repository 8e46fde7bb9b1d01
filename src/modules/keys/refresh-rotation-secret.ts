// The secret of the refresh grace's childJti (lib/tokens.ts): never a signing key, so no key
// rotation (and no change of JWT_ALGORITHM) changes the child a rotated token's retry is
// answered with. Which secret, in order:
// - a `refresh_rotation_secret` already kept in app_secrets (sealed by the secret box);
// - JWT_SECRET, when set: 0.1 derived the children from it, so a refresh retried across the
//   upgrade still gets its grace, and HS256 mode stays byte-compatible. It is not copied into
//   the database (0.1 never stored JWT_SECRET there either);
// - 0.1's generated `jwt_signing_secret`, for the same reason (it is in the database already);
// - else (a new database in an asymmetric mode) a random one, generated once and kept.
// Dropping JWT_SECRET later changes the secret once: only a refresh retried within
// REFRESH_REUSE_INTERVAL_SECONDS of that restart misses its grace.
import { randomToken } from '../../lib/random.js';
import type { SecretBox } from '../../lib/secret-box.js';
import type { Executor } from '../../db/database.js';
import { insertSecretIfAbsent, readSecret, readSecretIfPresent } from './app-secrets.repo.js';
import { LEGACY_SECRET_NAME } from './legacy-secret.js';

const NAME = 'refresh_rotation_secret';

export async function resolveRefreshRotationSecret(db: Executor, secrets: SecretBox, jwtSecret: string | undefined): Promise<string> {
  const kept = await readSecretIfPresent(db, NAME);
  if (kept !== undefined) return secrets.open(kept, NAME);
  if (jwtSecret) return jwtSecret;
  const legacy = await readSecretIfPresent(db, LEGACY_SECRET_NAME);
  if (legacy !== undefined) return legacy;
  // Insert-if-absent then read: instances starting together agree on the first one written.
  await insertSecretIfAbsent(db, NAME, secrets.seal(randomToken(48), NAME));
  return secrets.open(await readSecret(db, NAME), NAME);
}
