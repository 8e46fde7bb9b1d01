// The HMAC key refresh tokens are signed with in the asymmetric modes. Only Keyhold ever checks
// a refresh token (it is presented back to /auth/refresh and /auth/logout, never to another
// service), so an asymmetric signature buys nothing there and costs one ES256 sign and one
// verify per refresh (~125 µs of the ~540 µs a refresh costs; bench/compare.ts, docs/performance.md).
// The key is made once, kept sealed in app_secrets and shared by every instance; it is never a
// signing key and never published. Tokens name it by a `kid` of its own (`rt-…`), so refresh
// tokens signed before the upgrade, whose kid is an asymmetric key's, still verify with that key
// until they expire (its `previous` state lasts the longest token lifetime): nobody is signed out.
import { createHash, createSecretKey } from 'node:crypto';
import type { Executor } from '../../db/database.js';
import { randomToken } from '../../lib/random.js';
import type { SecretBox } from '../../lib/secret-box.js';
import type { TokenKey } from '../../lib/token-keys.js';
import { insertSecretIfAbsent, readSecret } from './app-secrets.repo.js';

const NAME = 'refresh_token_mac_key';

export async function loadRefreshTokenKey(db: Executor, secrets: SecretBox): Promise<TokenKey> {
  // Insert-if-absent then read: instances starting together agree on the first one written.
  await insertSecretIfAbsent(db, NAME, secrets.seal(randomToken(32), NAME));
  const secret = Buffer.from(secrets.open(await readSecret(db, NAME), NAME), 'utf8');
  // A name derived from the key (not the key): a later second key would get its own.
  const kid = `rt-${createHash('sha256').update('keyhold refresh-token kid').update(secret).digest('base64url').slice(0, 16)}`;
  return { kid, alg: 'HS256', key: createSecretKey(secret), refreshOnly: true };
}
