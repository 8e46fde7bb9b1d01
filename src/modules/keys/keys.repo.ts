// signing_keys and signing_key_set (migrations 0004, 0020): the SQL of the keys module (app_secrets: app-secrets.repo.ts).
import { sql } from 'kysely';
import type { Executor } from '../../db/database.js';
import { preparedStatement } from '../../db/prepared.js';
import type { SigningKeysTable } from '../../db/schema.js';
import type { AsymmetricAlgorithm, PublicJwk } from './key-material.js';

export type KeyState = SigningKeysTable['state'];

export interface SigningKeyRow {
  kid: string;
  alg: AsymmetricAlgorithm;
  state: KeyState;
  public_jwk: PublicJwk;
  private_key: string | null;
  created_at: Date;
  activated_at: Date | null;
  retired_at: Date | null;
  revoked_at: Date | null;
}

const keySetVersion = preparedStatement<{ version: string }>('key_set_version', `SELECT version::text AS version FROM signing_key_set WHERE id`);

/** The version every instance polls: one primary-key read. */
export async function readKeySetVersion(db: Executor): Promise<string> {
  // Prepared: every instance reads it every few seconds, idle or not.
  const [row] = await keySetVersion(db, []);
  if (!row) throw new Error('the signing key set row is missing (migration 0004)');
  return row.version;
}

/**
 * Locks the key set for a change (rotation, revocation, the first keys) and moves its version
 * on: concurrent changes queue on this row, and every instance sees the change at its next poll.
 */
export async function lockKeySetForChange(trx: Executor): Promise<{ version: string; legacyHs256Until: Date | null }> {
  const row = await sql<{ version: string; legacy_hs256_until: Date | null }>`
    UPDATE signing_key_set SET version = version + 1 WHERE id RETURNING version::text AS version, legacy_hs256_until
  `.execute(trx);
  const first = row.rows[0]!;
  return { version: first.version, legacyHs256Until: first.legacy_hs256_until };
}

export async function readLegacyHs256Until(db: Executor): Promise<Date | null> {
  const row = await db.selectFrom('signing_key_set').select('legacy_hs256_until').where('id', '=', true).executeTakeFirstOrThrow();
  return row.legacy_hs256_until;
}

export async function setLegacyHs256Until(trx: Executor, until: Date): Promise<void> {
  await trx.updateTable('signing_key_set').set({ legacy_hs256_until: until }).where('id', '=', true).execute();
}

const COLUMNS = ['kid', 'alg', 'state', 'public_jwk', 'private_key', 'created_at', 'activated_at', 'retired_at', 'revoked_at'] as const;

/** Every key, revoked ones included (for `keyhold keys list`), newest first. */
export async function listKeys(db: Executor): Promise<SigningKeyRow[]> {
  return (await db.selectFrom('signing_keys').select(COLUMNS).orderBy('created_at', 'desc').orderBy('kid').execute()) as unknown as SigningKeyRow[];
}

/** The keys that verify (next, current, previous). */
export async function listLiveKeys(db: Executor): Promise<SigningKeyRow[]> {
  return (await db
    .selectFrom('signing_keys')
    .select(COLUMNS)
    .where('state', '<>', 'revoked')
    .orderBy('created_at', 'desc')
    .orderBy('kid')
    .execute()) as unknown as SigningKeyRow[];
}

export async function insertKey(
  trx: Executor,
  key: { kid: string; alg: AsymmetricAlgorithm; state: 'next' | 'current'; publicJwk: PublicJwk; sealedPrivateKey: string; now: Date },
): Promise<void> {
  await trx
    .insertInto('signing_keys')
    .values({
      kid: key.kid,
      alg: key.alg,
      state: key.state,
      public_jwk: JSON.stringify(key.publicJwk),
      private_key: key.sealedPrivateKey,
      created_at: key.now,
      activated_at: key.state === 'current' ? key.now : null,
    })
    .execute();
}

/** The current key of `alg` (one per algorithm, migration 0020) becomes previous. */
export async function retireCurrentKey(trx: Executor, alg: AsymmetricAlgorithm, now: Date): Promise<void> {
  await trx.updateTable('signing_keys').set({ state: 'previous', retired_at: now }).where('state', '=', 'current').where('alg', '=', alg).execute();
}

export async function activateKey(trx: Executor, kid: string, now: Date): Promise<void> {
  await trx.updateTable('signing_keys').set({ state: 'current', activated_at: now }).where('kid', '=', kid).execute();
}

/** A `next` key that never signed anything (of an algorithm no longer configured). */
export async function deleteUnusedKey(trx: Executor, kid: string): Promise<void> {
  await trx.deleteFrom('signing_keys').where('kid', '=', kid).where('state', '=', 'next').execute();
}

/** Marks a key revoked and drops its private half; the state it had, or undefined. */
export async function revokeKeyRow(trx: Executor, kid: string, now: Date): Promise<KeyState | undefined> {
  const before = await trx.selectFrom('signing_keys').select('state').where('kid', '=', kid).forUpdate().executeTakeFirst();
  if (!before || before.state === 'revoked') return before?.state;
  await trx.updateTable('signing_keys').set({ state: 'revoked', revoked_at: now, private_key: null }).where('kid', '=', kid).execute();
  return before.state;
}

/** Deletes the previous keys retired before `retiredBefore` (every token they signed has expired). */
export async function deleteExpiredPreviousKeys(trx: Executor, retiredBefore: Date): Promise<string[]> {
  const rows = await trx
    .deleteFrom('signing_keys')
    .where('state', '=', 'previous')
    .where('retired_at', '<', retiredBefore)
    .returning('kid')
    .execute();
  return rows.map((row) => row.kid);
}
