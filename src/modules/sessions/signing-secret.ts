// The JWT signing secret: JWT_SECRET when set, else one generated on first start and kept
// in the database, so tokens survive restarts and every instance signs with the same key.
import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import { randomToken } from '../../lib/random.js';

const NAME = 'jwt_signing_secret';

export async function resolveSigningSecret(db: Kysely<Database>, configured: string | undefined): Promise<string> {
  if (configured) return configured;
  // Insert-if-absent then read: instances starting together agree on the first one written.
  await db.insertInto('app_secrets').values({ name: NAME, value: randomToken(48) }).onConflict((oc) => oc.column('name').doNothing()).execute();
  const row = await db.selectFrom('app_secrets').select('value').where('name', '=', NAME).executeTakeFirstOrThrow();
  return row.value;
}
