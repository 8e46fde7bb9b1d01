// Platform settings: a small typed registry of keys, stored in platform_settings, with
// the default used while a key has never been written.
import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';

interface SettingDefinition<T> {
  default: T;
  /** Returns the value to store, or null when `value` is not acceptable for the key. */
  parse(value: unknown): T | null;
  description: string;
}

const booleanSetting = (fallback: boolean, description: string): SettingDefinition<boolean> => ({
  default: fallback,
  parse: (value) => (typeof value === 'boolean' ? value : null),
  description,
});

export const SETTINGS = {
  email_verification_enabled: booleanSetting(true, 'Send verification emails and allow /auth/email/* flows'),
} as const;

export type SettingKey = keyof typeof SETTINGS;
export type SettingValue<K extends SettingKey> = (typeof SETTINGS)[K]['default'];

export const isSettingKey = (key: string): key is SettingKey => Object.hasOwn(SETTINGS, key);

export async function getSetting<K extends SettingKey>(db: Kysely<Database>, key: K): Promise<SettingValue<K>> {
  const row = await db.selectFrom('platform_settings').select('value').where('key', '=', key).executeTakeFirst();
  if (row === undefined) return SETTINGS[key].default;
  const parsed = SETTINGS[key].parse(row.value);
  return (parsed ?? SETTINGS[key].default) as SettingValue<K>;
}

export async function getAllSettings(db: Kysely<Database>): Promise<Record<SettingKey, unknown>> {
  const rows = await db.selectFrom('platform_settings').select(['key', 'value']).execute();
  const stored = new Map(rows.map((row) => [row.key, row.value]));
  const result = {} as Record<SettingKey, unknown>;
  for (const key of Object.keys(SETTINGS) as SettingKey[]) {
    const parsed = stored.has(key) ? SETTINGS[key].parse(stored.get(key)) : null;
    result[key] = parsed ?? SETTINGS[key].default;
  }
  return result;
}

/** Stores a value already checked with SETTINGS[key].parse. */
export async function writeSetting(
  db: Kysely<Database>,
  key: SettingKey,
  value: unknown,
  updatedBy: string | null,
  now: Date,
): Promise<void> {
  await db
    .insertInto('platform_settings')
    .values({ key, value: JSON.stringify(value), updated_by: updatedBy, updated_at: now })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value: JSON.stringify(value), updated_by: updatedBy, updated_at: now }))
    .execute();
}
