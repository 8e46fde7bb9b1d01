// TOTP secrets, recovery codes and the sign-in challenges that wait for a second factor.
import { sql } from 'kysely';
import type { Executor } from '../../db/database.js';
import { preparedStatement } from '../../db/prepared.js';
import { singleUse } from '../../db/single-use.repo.js';
import { spentRowsRule } from '../retention/retention-rules.js';

/** Sign-in challenges (mfa_token) and recovery codes: single use (db/single-use.repo.ts). */
export const mfaChallenges = singleUse('mfa_challenges', { key: 'id' });
const recoveryCodes = singleUse('mfa_recovery_codes', { key: 'id', neverExpires: true });

export interface UserMfa {
  sealedSecret: string;
  enabled: boolean;
}

// $1 user id. Every view of the account page asks (and every code check): one prepared statement.
const userMfa = preparedStatement<{ totp_secret: string; enabled_at: Date | null }>('user_mfa_of_user', `
  SELECT totp_secret, enabled_at FROM user_mfa WHERE user_id = $1`);

export async function findUserMfa(db: Executor, userId: string): Promise<UserMfa | undefined> {
  const row = (await userMfa(db, [userId]))[0];
  return row && { sealedSecret: row.totp_secret, enabled: row.enabled_at !== null };
}

export interface SavePendingTotp {
  userId: string;
  sealedSecret: string;
  now: Date;
}

/** Setup: a new pending secret replaces a pending one; an enabled one is never replaced (false). */
export async function savePendingTotp(db: Executor, { userId, sealedSecret, now }: SavePendingTotp): Promise<boolean> {
  const result = await sql<{ user_id: string }>`
    INSERT INTO user_mfa (user_id, totp_secret, created_at, updated_at)
    VALUES (${userId}, ${sealedSecret}, ${now}, ${now})
    ON CONFLICT (user_id) DO UPDATE
      SET totp_secret = EXCLUDED.totp_secret, last_used_step = NULL, updated_at = EXCLUDED.updated_at
      WHERE user_mfa.enabled_at IS NULL
    RETURNING user_id
  `.execute(db);
  return result.rows.length === 1;
}

/**
 * Spends a TOTP time step: true only for the first request that presents a code of a step
 * newer than any accepted before. One conditional UPDATE, so two concurrent requests with
 * one code cannot both pass. `enabling`: the sealed pending secret the code was checked
 * against, which this enables (only that one: a setup racing in between replaced it).
 */
export async function claimTotpStep(db: Executor, userId: string, claim: { step: number; now: Date; enabling?: string }): Promise<boolean> {
  const { step, now, enabling } = claim;
  const result = await sql<{ user_id: string }>`
    UPDATE user_mfa
       SET last_used_step = ${step}, updated_at = ${now}
           ${enabling !== undefined ? sql`, enabled_at = ${now}` : sql``}
     WHERE user_id = ${userId}
       AND ${enabling !== undefined ? sql`enabled_at IS NULL AND totp_secret = ${enabling}` : sql`enabled_at IS NOT NULL`}
       AND (last_used_step IS NULL OR last_used_step < ${step})
    RETURNING user_id
  `.execute(db);
  return result.rows.length === 1;
}

export async function deleteUserMfa(db: Executor, userId: string): Promise<boolean> {
  return (await deleteUserMfaCounted(db, userId)).totp;
}

/** The TOTP secret and every recovery code go: whether there was a secret, and how many unused codes. */
export async function deleteUserMfaCounted(db: Executor, userId: string): Promise<{ totp: boolean; recoveryCodes: number }> {
  const result = await db.deleteFrom('user_mfa').where('user_id', '=', userId).executeTakeFirst();
  const codes = await db.deleteFrom('mfa_recovery_codes').where('user_id', '=', userId).returning('used_at').execute();
  return { totp: Number(result.numDeletedRows) > 0, recoveryCodes: codes.filter((code) => code.used_at === null).length };
}

/** The old set dies with the new one. */
export async function replaceRecoveryCodes(db: Executor, userId: string, codeHashes: string[]): Promise<void> {
  await db.deleteFrom('mfa_recovery_codes').where('user_id', '=', userId).execute();
  await db.insertInto('mfa_recovery_codes').values(codeHashes.map((code_hash) => ({ user_id: userId, code_hash }))).execute();
}

export interface UseRecoveryCode {
  userId: string;
  codeHash: string;
  now: Date;
}

/** Spends a recovery code: true once, for the first request; conditional, so races cannot reuse one. */
export async function useRecoveryCode(db: Executor, { userId, codeHash, now }: UseRecoveryCode): Promise<boolean> {
  return (await recoveryCodes.spend(db, { match: { user_id: userId, code_hash: codeHash }, now })) !== undefined;
}

export async function countUnusedRecoveryCodes(db: Executor, userId: string): Promise<number> {
  // Recovery codes never expire, so the moment given does not matter.
  return recoveryCodes.countLive(db, { user_id: userId }, new Date(0));
}

// Sign-in challenges (mfa_token)

export interface NewMfaChallenge {
  id: string;
  tokenHash: string;
  userId: string;
  firstFactor: string;
  auditAction: string;
  auditDetails: Record<string, unknown>;
  expiresAt: Date;
  now: Date;
}

export async function insertMfaChallenge(db: Executor, c: NewMfaChallenge): Promise<void> {
  await db
    .insertInto('mfa_challenges')
    .values({
      id: c.id,
      token_hash: c.tokenHash,
      user_id: c.userId,
      first_factor: c.firstFactor,
      audit_action: c.auditAction,
      audit_details: JSON.stringify(c.auditDetails),
      expires_at: c.expiresAt,
      created_at: c.now,
    })
    .execute();
}

export interface MfaChallengeRow {
  id: string;
  user_id: string;
  first_factor: string;
  audit_action: string;
  audit_details: Record<string, unknown>;
  passkey_challenge: string | null;
  failed_attempts: number;
}

/** The live challenge behind a token, locked until the transaction ends (its attempts serialise). */
export async function lockLiveMfaChallenge(trx: Executor, tokenHash: string, now: Date): Promise<MfaChallengeRow | undefined> {
  return mfaChallenges.findLive(trx, {
    match: { token_hash: tokenHash },
    now,
    columns: ['id', 'user_id', 'first_factor', 'audit_action', 'audit_details', 'passkey_challenge', 'failed_attempts'],
    lock: true,
  });
}

/** The challenge is answered (it is locked and live: lockLiveMfaChallenge). */
export async function spendMfaChallenge(trx: Executor, id: string, now: Date): Promise<void> {
  await mfaChallenges.spend(trx, { match: { id }, now });
}

/** A wrong code: counted; the last allowed one kills the challenge. */
export async function countMfaFailure(trx: Executor, id: string, failure: { failedAttempts: number; killed: boolean; now: Date }): Promise<void> {
  const { failedAttempts, killed, now } = failure;
  if (killed) await mfaChallenges.spend(trx, { match: { id }, now, set: { failed_attempts: failedAttempts } });
  else await trx.updateTable('mfa_challenges').set({ failed_attempts: failedAttempts }).where('id', '=', id).execute();
}

export async function setMfaPasskeyChallenge(trx: Executor, id: string, challenge: string | null): Promise<void> {
  await trx.updateTable('mfa_challenges').set({ passkey_challenge: challenge }).where('id', '=', id).execute();
}

/** Every challenge of the user still waiting for a second factor dies (an admin's reset). */
export async function endLiveMfaChallenges(trx: Executor, userId: string, now: Date): Promise<number> {
  return mfaChallenges.spendAll(trx, { user_id: userId }, now);
}

/** Retention (modules/retention): sign-in challenges used or expired over a day ago (recovery codes go with their set). */
export const mfaChallengeRetention = spentRowsRule(mfaChallenges);
