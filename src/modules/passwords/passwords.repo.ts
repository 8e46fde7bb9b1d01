// The only SQL over password_reset_tokens. Only hash(jti) is stored; the token itself
// exists solely in the email and the user's hands.
import { sql } from 'kysely';
import type { Executor } from '../../db/database.js';
import { writeOf, type Write } from '../../db/together.js';
import { spentRows } from '../retention/spent-rows.repo.js';

/** insertResetToken as a Write (db/together.ts). */
export function resetTokenWrite(db: Executor, token: { tokenHash: string; userId: string; expiresAt: Date; createdAt: Date }): Write {
  return writeOf(
    db.insertInto('password_reset_tokens').values({ token_hash: token.tokenHash, user_id: token.userId, expires_at: token.expiresAt, created_at: token.createdAt }).compile(),
  );
}

export async function insertResetToken(
  db: Executor,
  token: { tokenHash: string; userId: string; expiresAt: Date; createdAt: Date },
): Promise<void> {
  await db
    .insertInto('password_reset_tokens')
    .values({ token_hash: token.tokenHash, user_id: token.userId, expires_at: token.expiresAt, created_at: token.createdAt })
    .execute();
}

/** The user's email while the token is unused and unexpired (verify-reset-token). */
export async function findUsableResetToken(db: Executor, tokenHash: string, now: Date): Promise<{ user_id: string; email: string } | undefined> {
  return db
    .selectFrom('password_reset_tokens as t')
    .innerJoin('users as u', 'u.id', 't.user_id')
    .select(['t.user_id', 'u.email'])
    .where('t.token_hash', '=', tokenHash)
    .where('t.used_at', 'is', null)
    .where('t.expires_at', '>', now)
    .executeTakeFirst();
}

/**
 * Spends a token. The conditional UPDATE is the lock: of two concurrent resets with one
 * token, the second waits for the first, re-reads used_at, matches nothing and fails.
 */
export async function consumeResetToken(db: Executor, tokenHash: string, now: Date): Promise<{ user_id: string } | undefined> {
  const result = await sql<{ user_id: string }>`
    UPDATE password_reset_tokens SET used_at = ${now}
     WHERE token_hash = ${tokenHash} AND used_at IS NULL AND expires_at > ${now}
    RETURNING user_id
  `.execute(db);
  return result.rows[0];
}

/** Once the password has changed, links asked for before the change no longer work. */
export async function retireResetTokens(db: Executor, userId: string, now: Date): Promise<void> {
  await db
    .updateTable('password_reset_tokens')
    .set({ used_at: now })
    .where('user_id', '=', userId)
    .where('used_at', 'is', null)
    .execute();
}

/** Retention: reset tokens used or expired over a day ago (modules/retention). */
export const spentResetTokens = spentRows('password_reset_tokens', 'id');
