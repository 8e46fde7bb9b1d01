// Platform settings as stored: a JSON value per key. What a value means, and its default,
// is the service's (settings.service.ts).
import type { Executor } from '../../db/database.js';

export async function findStoredSetting(db: Executor, key: string): Promise<{ value: unknown } | undefined> {
  return db.selectFrom('platform_settings').select('value').where('key', '=', key).executeTakeFirst();
}

export async function listStoredSettings(db: Executor): Promise<Array<{ key: string; value: unknown }>> {
  return db.selectFrom('platform_settings').select(['key', 'value']).execute();
}

export interface SettingWrite {
  key: string;
  value: unknown;
  updatedBy: string | null;
  now: Date;
}

/** Stores a value already checked with SETTINGS[key].parse. */
export async function writeSetting(db: Executor, { key, value, updatedBy, now }: SettingWrite): Promise<void> {
  await db
    .insertInto('platform_settings')
    .values({ key, value: JSON.stringify(value), updated_by: updatedBy, updated_at: now })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value: JSON.stringify(value), updated_by: updatedBy, updated_at: now }))
    .execute();
}
