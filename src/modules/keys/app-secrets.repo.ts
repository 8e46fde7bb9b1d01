// Server-held secrets kept in the database (app_secrets), such as the generated JWT secret.
import type { Executor } from '../../db/database.js';

/** Writes the value unless the name exists: of instances starting together, the first wins. */
export async function insertSecretIfAbsent(db: Executor, name: string, value: string): Promise<void> {
  await db.insertInto('app_secrets').values({ name, value }).onConflict((oc) => oc.column('name').doNothing()).execute();
}

export async function readSecret(db: Executor, name: string): Promise<string> {
  const row = await db.selectFrom('app_secrets').select('value').where('name', '=', name).executeTakeFirstOrThrow();
  return row.value;
}

export async function readSecretIfPresent(db: Executor, name: string): Promise<string | undefined> {
  const row = await db.selectFrom('app_secrets').select('value').where('name', '=', name).executeTakeFirst();
  return row?.value;
}
