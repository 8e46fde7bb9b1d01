// Platform settings: a small typed registry of keys, stored in platform_settings, with
// the default used while a key has never been written. Admins change them over HTTP
// (PUT /admin/settings/{key}) and operators with `keyhold settings set`: both go through
// changeSetting, so a value is checked against the registry in exactly one place.
import type { Kysely } from 'kysely';
import type { AppContext, RequestMeta } from '../../context.js';
import type { Database } from '../../db/schema.js';
import { notFound, validationError } from '../../lib/errors.js';
import { recordAudit } from '../audit/audit.repo.js';

interface SettingDefinition<T> {
  default: T;
  /** Returns the value to store, or null when `value` is not acceptable for the key. */
  parse(value: unknown): T | null;
  /** What `parse` accepts, for the error message. */
  expects: string;
  description: string;
}

const booleanSetting = (fallback: boolean, description: string): SettingDefinition<boolean> => ({
  default: fallback,
  parse: (value) => (typeof value === 'boolean' ? value : null),
  expects: 'a boolean (true or false)',
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

export function settingKey(key: string): SettingKey {
  if (!isSettingKey(key)) throw notFound('Setting not found');
  return key;
}

/** One setting's current value; unknown key → 404 `Setting not found`. */
export async function readSetting(ctx: Pick<AppContext, 'db'>, key: string): Promise<{ key: SettingKey; value: unknown }> {
  const known = settingKey(key);
  return { key: known, value: await getSetting(ctx.db, known) };
}

/** Unknown key → 404; a value the key does not accept → 422 on `value`; else stored and audited. */
export async function changeSetting(
  ctx: Pick<AppContext, 'db' | 'clock'>,
  actorId: string | null,
  key: string,
  value: unknown,
  meta: RequestMeta | null,
): Promise<{ key: SettingKey; value: unknown }> {
  const known = settingKey(key);
  const parsed = SETTINGS[known].parse(value);
  if (parsed === null) throw validationError(['body', 'value'], `Input should be ${SETTINGS[known].expects}`);
  const now = ctx.clock.now();
  await ctx.db.transaction().execute(async (trx) => {
    const previous = await getSetting(trx, known);
    await writeSetting(trx, known, parsed, actorId, now);
    await recordAudit(trx, meta, {
      action: 'admin.setting_changed',
      userId: actorId,
      resourceType: 'setting',
      resourceId: known,
      details: { key: known, from: previous, to: parsed },
    });
  });
  return { key: known, value: parsed };
}
