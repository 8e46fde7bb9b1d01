// Email-verification tokens (stored as hashes) and the user's verified mark.
import { sql } from 'kysely';
import type { Executor } from '../../db/database.js';
import { spentRows } from '../retention/spent-rows.repo.js';

export async function insertVerificationToken(
  db: Executor,
  token: { tokenHash: string; userId: string; email: string; expiresAt: Date },
): Promise<void> {
  await db
    .insertInto('email_verification_tokens')
    .values({ token_hash: token.tokenHash, user_id: token.userId, email: token.email, expires_at: token.expiresAt })
    .execute();
}

/**
 * Spends a verification token. The conditional UPDATE is the lock: of two concurrent
 * verifications with one token, the second waits for the first, then matches nothing.
 */
export async function consumeVerificationToken(
  db: Executor,
  tokenHash: string,
  now: Date,
): Promise<{ user_id: string; email: string } | undefined> {
  const result = await sql<{ user_id: string; email: string }>`
    UPDATE email_verification_tokens SET used_at = ${now}
     WHERE token_hash = ${tokenHash} AND used_at IS NULL AND expires_at > ${now}
    RETURNING user_id, email
  `.execute(db);
  return result.rows[0];
}

/** Marks the address verified only while it is still the one the link was sent to. */
export async function markEmailVerified(
  db: Executor,
  userId: string,
  email: string,
  now: Date,
): Promise<'verified' | 'email_changed' | 'no_user'> {
  const updated = await sql<{ id: string }>`
    UPDATE users SET email_verified_at = COALESCE(email_verified_at, ${now}), updated_at = ${now}
     WHERE id = ${userId} AND email = ${email}
    RETURNING id
  `.execute(db);
  if (updated.rows.length > 0) return 'verified';
  const exists = await db.selectFrom('users').select('id').where('id', '=', userId).executeTakeFirst();
  return exists ? 'email_changed' : 'no_user';
}

/** Retention: verification tokens used or expired over a day ago (modules/retention). */
export const spentVerificationTokens = spentRows('email_verification_tokens', 'id');
