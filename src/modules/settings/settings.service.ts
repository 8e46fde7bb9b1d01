// Platform settings: a small typed registry of keys, stored in platform_settings, with
// the default used while a key has never been written. Admins change them over HTTP
// (PUT /admin/settings/{key}) and operators with `keyhold settings set`: both go through
// changeSetting, so a value is checked against the registry in exactly one place.
import type { AppContext, RequestMeta } from '../../context.js';
import { Errors, validationError } from '../../lib/errors.js';
import { recordAudit } from '../audit/audit.repo.js';
import type { Executor } from '../../db/database.js';
import { findStoredSetting, listStoredSettings, writeSetting } from './settings.repo.js';
import { inUnitOfWork } from '../../db/unit-of-work.js';

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

export async function getSetting<K extends SettingKey>(db: Executor, key: K): Promise<SettingValue<K>> {
  const row = await findStoredSetting(db, key);
  if (row === undefined) return SETTINGS[key].default;
  const parsed = SETTINGS[key].parse(row.value);
  return (parsed ?? SETTINGS[key].default) as SettingValue<K>;
}

export async function getAllSettings(db: Executor): Promise<Record<SettingKey, unknown>> {
  const rows = await listStoredSettings(db);
  const stored = new Map(rows.map((row) => [row.key, row.value]));
  const result = {} as Record<SettingKey, unknown>;
  for (const key of Object.keys(SETTINGS) as SettingKey[]) {
    const parsed = stored.has(key) ? SETTINGS[key].parse(stored.get(key)) : null;
    result[key] = parsed ?? SETTINGS[key].default;
  }
  return result;
}

export function settingKey(key: string): SettingKey {
  if (!isSettingKey(key)) throw Errors.settingNotFound();
  return key;
}

/** One setting's current value; unknown key → 404 `Setting not found`. */
export async function readSetting(ctx: Pick<AppContext, 'db'>, key: string): Promise<{ key: SettingKey; value: unknown }> {
  const known = settingKey(key);
  return { key: known, value: await getSetting(ctx.db, known) };
}

export interface ChangeSetting {
  actorId: string | null;
  key: string;
  value: unknown;
  meta: RequestMeta | null;
}

/** Unknown key → 404; a value the key does not accept → 422 on `value`; else stored and audited. */
export async function changeSetting(
  ctx: Pick<AppContext, 'db' | 'clock'> & { jobs: AppContext['jobs'] | undefined },
  { actorId, key, value, meta }: ChangeSetting,
): Promise<{ key: SettingKey; value: unknown }> {
  const known = settingKey(key);
  const parsed = SETTINGS[known].parse(value);
  if (parsed === null) throw validationError(['body', 'value'], `Input should be ${SETTINGS[known].expects}`);
  const now = ctx.clock.now();
  await inUnitOfWork(ctx, async (trx) => {
    const previous = await getSetting(trx, known);
    await writeSetting(trx, { key: known, value: parsed, updatedBy: actorId, now });
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
