// Email-verification tokens (stored as hashes) and the user's verified mark.
import { sql } from 'kysely';
import type { Executor } from '../../db/database.js';
import { singleUse } from '../../db/single-use.repo.js';
import { spentRowsRule } from '../retention/retention-rules.js';

/** Verification links: single use (db/single-use.repo.ts). */
export const verificationTokens = singleUse('email_verification_tokens', { key: 'id' });

export async function insertVerificationToken(
  db: Executor,
  token: { tokenHash: string; userId: string; email: string; expiresAt: Date },
): Promise<void> {
  await db
    .insertInto('email_verification_tokens')
    .values({ token_hash: token.tokenHash, user_id: token.userId, email: token.email, expires_at: token.expiresAt })
    .execute();
}

/** Spends a verification token, once: of two concurrent verifications, the second finds nothing. */
export async function consumeVerificationToken(
  db: Executor,
  tokenHash: string,
  now: Date,
): Promise<{ user_id: string; email: string } | undefined> {
  return verificationTokens.spend(db, { match: { token_hash: tokenHash }, now, returning: ['user_id', 'email'] });
}

export interface MarkEmailVerified {
  userId: string;
  email: string;
  now: Date;
}

/** Marks the address verified only while it is still the one the link was sent to. */
export async function markEmailVerified(
  db: Executor,
  { userId, email, now }: MarkEmailVerified,
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

/** Retention (modules/retention): verification links used or expired over a day ago. */
export const verificationTokenRetention = spentRowsRule(verificationTokens);
