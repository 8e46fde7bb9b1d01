// Passkeys (WebAuthn credentials) and the challenges of their ceremonies.
import { sql } from 'kysely';
import type { Executor } from '../../db/database.js';
import { preparedStatement } from '../../db/prepared.js';
import { singleUse } from '../../db/single-use.repo.js';
import { spentRowsRule } from '../retention/retention-rules.js';

/** Ceremony challenges: single use (db/single-use.repo.ts). */
export const webauthnChallenges = singleUse('webauthn_challenges', { key: 'id' });

export interface PasskeyRow {
  id: string;
  user_id: string;
  credential_id: string;
  public_key: string;
  counter: number;
  transports: string[];
  name: string;
  created_at: Date;
  last_used_at: Date | null;
}

const COLUMNS = ['id', 'user_id', 'credential_id', 'public_key', 'counter', 'transports', 'name', 'created_at', 'last_used_at'] as const;

const toRow = (row: Omit<PasskeyRow, 'counter'> & { counter: string | number | bigint }): PasskeyRow => ({ ...row, counter: Number(row.counter) });

export async function insertPasskey(
  db: Executor,
  p: { userId: string; credentialId: string; publicKey: string; counter: number; transports: string[]; deviceType: string; backedUp: boolean; name: string; now: Date },
): Promise<PasskeyRow> {
  const row = await db
    .insertInto('passkeys')
    .values({
      user_id: p.userId,
      credential_id: p.credentialId,
      public_key: p.publicKey,
      counter: p.counter,
      transports: p.transports,
      device_type: p.deviceType,
      backed_up: p.backedUp,
      name: p.name,
      created_at: p.now,
    })
    .returning(COLUMNS)
    .executeTakeFirstOrThrow();
  return toRow(row);
}

// $1 user id. The account page lists them on every view: one prepared statement.
const passkeysOfUser = preparedStatement<Parameters<typeof toRow>[0]>('passkeys_of_user', `
  SELECT ${COLUMNS.join(', ')} FROM passkeys WHERE user_id = $1 ORDER BY created_at, id`);

export async function listPasskeys(db: Executor, userId: string): Promise<PasskeyRow[]> {
  return (await passkeysOfUser(db, [userId])).map(toRow);
}

export async function countPasskeys(db: Executor, userId: string): Promise<number> {
  const row = await db.selectFrom('passkeys').select((eb) => eb.fn.countAll<number>().as('n')).where('user_id', '=', userId).executeTakeFirst();
  return Number(row?.n ?? 0);
}

export async function findPasskeyByCredentialId(db: Executor, credentialId: string): Promise<PasskeyRow | undefined> {
  const row = await db.selectFrom('passkeys').select(COLUMNS).where('credential_id', '=', credentialId).executeTakeFirst();
  return row && toRow(row);
}

export interface PasskeyRename {
  userId: string;
  id: string;
  name: string;
}

export async function renamePasskey(db: Executor, { userId, id, name }: PasskeyRename): Promise<PasskeyRow | undefined> {
  const row = await db.updateTable('passkeys').set({ name }).where('id', '=', id).where('user_id', '=', userId).returning(COLUMNS).executeTakeFirst();
  return row && toRow(row);
}

export async function deletePasskey(db: Executor, userId: string, id: string): Promise<PasskeyRow | undefined> {
  const row = await db.deleteFrom('passkeys').where('id', '=', id).where('user_id', '=', userId).returning(COLUMNS).executeTakeFirst();
  return row && toRow(row);
}

export async function deleteUserPasskeys(db: Executor, userId: string): Promise<number> {
  const result = await db.deleteFrom('passkeys').where('user_id', '=', userId).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/**
 * Records a use. Conditional on the counter the check was made against, so of two assertions
 * racing with one counter value only one wins; an authenticator without a counter (always 0)
 * stays at 0.
 */
export async function recordPasskeyUse(db: Executor, id: string, use: { checkedCounter: number; newCounter: number; now: Date }): Promise<boolean> {
  const { checkedCounter, newCounter, now } = use;
  const result = await sql<{ id: string }>`
    UPDATE passkeys SET counter = ${newCounter}, last_used_at = ${now}
     WHERE id = ${id} AND counter = ${checkedCounter}
       AND (${newCounter}::bigint > counter OR (${newCounter}::bigint = 0 AND counter = 0))
    RETURNING id
  `.execute(db);
  return result.rows.length === 1;
}

// Challenges

export async function insertWebauthnChallenge(
  db: Executor,
  c: { challenge: string; purpose: 'register' | 'login'; userId: string | null; expiresAt: Date; now: Date; secondFactorProven?: boolean },
): Promise<string> {
  const row = await db
    .insertInto('webauthn_challenges')
    .values({
      challenge: c.challenge,
      purpose: c.purpose,
      user_id: c.userId,
      second_factor_proven: c.secondFactorProven ?? false,
      expires_at: c.expiresAt,
      created_at: c.now,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

export interface RegistrationChallengeSpend {
  userId: string;
  challenge: string;
  now: Date;
}

/**
 * Spends a registration challenge issued to this user, once: whether it was issued with
 * second-factor proof, or undefined when there is none to spend.
 */
export async function spendRegistrationChallenge(
  db: Executor,
  { userId, challenge, now }: RegistrationChallengeSpend,
): Promise<{ secondFactorProven: boolean } | undefined> {
  const row = await webauthnChallenges.spend(db, { match: { challenge, purpose: 'register', user_id: userId }, now, returning: ['second_factor_proven'] });
  return row && { secondFactorProven: row.second_factor_proven };
}

/** Every registration ceremony the user has begun and not finished dies; how many there were. */
export async function endRegistrationChallenges(db: Executor, userId: string, now: Date): Promise<number> {
  return webauthnChallenges.spendAll(db, { purpose: 'register', user_id: userId }, now);
}

/** Spends a sign-in challenge by its id: its value, once; undefined when unknown, used or expired. */
export async function spendLoginChallenge(db: Executor, id: string, now: Date): Promise<string | undefined> {
  return (await webauthnChallenges.spend(db, { match: { id, purpose: 'login' }, now, returning: ['challenge'] }))?.challenge;
}

/** Retention (modules/retention): ceremony challenges used or expired over a day ago. */
export const webauthnChallengeRetention = spentRowsRule(webauthnChallenges);
