// The only SQL over password_reset_tokens. Only hash(jti) is stored; the token itself
// exists solely in the email and the user's hands.
import type { Executor } from '../../db/database.js';
import { writeOf, type Write } from '../../db/together.js';
import { singleUse } from '../../db/single-use.repo.js';
import { spentRowsRule } from '../retention/retention-rules.js';

/** Reset links: single use (db/single-use.repo.ts). */
export const resetTokens = singleUse('password_reset_tokens', { key: 'id' });

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

/** Spends a token, once: of two concurrent resets with one token, the second finds nothing. */
export async function consumeResetToken(db: Executor, tokenHash: string, now: Date): Promise<{ user_id: string } | undefined> {
  return resetTokens.spend(db, { match: { token_hash: tokenHash }, now, returning: ['user_id'] });
}

/** Once the password has changed, links asked for before the change no longer work. */
export async function retireResetTokens(db: Executor, userId: string, now: Date): Promise<void> {
  await resetTokens.spendAll(db, { user_id: userId }, now);
}

/** Retention (modules/retention): reset links used or expired over a day ago. */
export const resetTokenRetention = spentRowsRule(resetTokens);
