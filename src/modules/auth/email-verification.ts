// Email verification: the single-use token and its email (on registration, on an email
// change, on request), and spending the token.
import { sql, type Kysely } from 'kysely';
import type { AppContext, RequestMeta } from '../../context.js';
import type { Database, UserRow } from '../../db/schema.js';
import { badRequest, forbidden } from '../../lib/errors.js';
import { hashSecret } from '../../lib/random.js';
import { recordAudit } from '../audit/audit.repo.js';
import { enqueueEmail } from '../email/outbox.repo.js';
import { verifyEmailMessage } from '../email/templates.js';
import { getSetting } from '../settings/settings.service.js';

/** Queues a verification email for `email` when the platform has verification on. */
export async function queueVerificationEmail(
  ctx: Pick<AppContext, 'tokens' | 'config'>,
  db: Kysely<Database>,
  user: { id: string; email: string },
): Promise<boolean> {
  if (!(await getSetting(db, 'email_verification_enabled'))) return false;
  const token = await ctx.tokens.issue('email_verification', user.id);
  await db
    .insertInto('email_verification_tokens')
    .values({ token_hash: hashSecret(token.jti), user_id: user.id, email: user.email, expires_at: token.expiresAt })
    .execute();
  await enqueueEmail(db, verifyEmailMessage(ctx.config.frontendUrl, user.email, token.token));
  return true;
}

export const isVerificationEnabled = (ctx: Pick<AppContext, 'db'>): Promise<boolean> =>
  getSetting(ctx.db, 'email_verification_enabled');

/** POST /auth/email/send-verification: a new link for the signed-in user's current address. */
export async function sendVerificationEmail(ctx: AppContext, user: UserRow): Promise<void> {
  if (!(await isVerificationEnabled(ctx))) throw forbidden('Email verification is currently disabled');
  if (user.email_verified_at !== null) throw badRequest('Email is already verified');
  const queued = await ctx.db.transaction().execute((trx) => queueVerificationEmail(ctx, trx, user));
  // Switched off between the check and the transaction.
  if (!queued) throw forbidden('Email verification is currently disabled');
  ctx.outbox.notify();
}

/** POST /auth/email/verify. The body is a free dict, as in the reference: `token` may be anything. */
export async function verifyEmail(ctx: AppContext, token: unknown, meta: RequestMeta): Promise<void> {
  if (isAbsent(token)) throw badRequest('Token is required');
  const claims = await ctx.tokens.verify(token, 'email_verification');
  if (!claims) throw badRequest('Invalid or expired verification token');
  const now = ctx.clock.now();
  await ctx.db.transaction().execute(async (trx) => {
    const spent = await consumeVerificationToken(trx, hashSecret(claims.jti), now);
    if (!spent) throw badRequest('Verification token has already been used or has expired');
    if (spent.user_id !== claims.sub) throw badRequest('Invalid verification token');
    const outcome = await markEmailVerified(trx, spent.user_id, spent.email, now);
    if (outcome === 'no_user') throw badRequest('Invalid verification token');
    // The link was sent to an address the user has since changed: it proves nothing about
    // the current one. Throwing rolls the token back too; it stays unusable all the same.
    if (outcome === 'email_changed') throw badRequest('Invalid or expired verification token');
    await recordAudit(trx, meta, { action: 'auth.email_verified', userId: spent.user_id, resourceType: 'user', resourceId: spent.user_id });
  });
}

/** The reference's `if not token`: Python's falsy values. Anything else is judged as a token. */
const isAbsent = (value: unknown): boolean =>
  value === undefined || value === null || value === false || value === 0 || value === '' ||
  (Array.isArray(value) && value.length === 0) ||
  (typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length === 0);

/**
 * Spends a verification token. The conditional UPDATE is the lock: of two concurrent
 * verifications with one token, the second waits for the first, then matches nothing.
 */
async function consumeVerificationToken(
  db: Kysely<Database>,
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
async function markEmailVerified(
  db: Kysely<Database>,
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
