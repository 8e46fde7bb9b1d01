// Email verification: the single-use token and its email (on registration, on an email
// change, on request), and spending the token.
import type { AppContext, RequestMeta } from '../../context.js';
import type { UserRow } from '../../db/schema.js';
import { emitEvent } from '../events/emit-event.js';
import { toUserResponse } from '../users/user.schemas.js';
import { findUserById } from '../users/users.repo.js';
import { Errors } from '../../lib/errors.js';
import { hashSecret } from '../../lib/random.js';
import { recordAudit } from '../audit/audit.repo.js';
import { enqueueEmail } from '../email/email-job.js';
import { verifyEmailMessage } from '../email/templates.js';
import { getSetting } from '../settings/settings.service.js';
import type { Executor } from '../../db/database.js';
import { consumeVerificationToken, insertVerificationToken, markEmailVerified } from './email-verification.repo.js';
import { inUnitOfWork } from '../../db/unit-of-work.js';

/** Queues a verification email for `email` when the platform has verification on. */
export async function queueVerificationEmail(
  ctx: Pick<AppContext, 'tokens' | 'config'>,
  db: Executor,
  user: { id: string; email: string },
): Promise<boolean> {
  if (!(await getSetting(db, 'email_verification_enabled'))) return false;
  const token = await ctx.tokens.issue('email_verification', user.id);
  await insertVerificationToken(db, { tokenHash: hashSecret(token.jti), userId: user.id, email: user.email, expiresAt: token.expiresAt });
  await enqueueEmail(db, verifyEmailMessage(ctx.config.frontendUrl, user.email, token.token));
  return true;
}

export const isVerificationEnabled = (ctx: Pick<AppContext, 'db'>): Promise<boolean> =>
  getSetting(ctx.db, 'email_verification_enabled');

/** POST /auth/email/send-verification: a new link for the signed-in user's current address. */
export async function sendVerificationEmail(ctx: AppContext, user: UserRow): Promise<void> {
  if (!(await isVerificationEnabled(ctx))) throw Errors.verificationDisabled();
  if (user.email_verified_at !== null) throw Errors.emailAlreadyVerified();
  const queued = await inUnitOfWork(ctx, (trx) => queueVerificationEmail(ctx, trx, user));
  // Switched off between the check and the transaction.
  if (!queued) throw Errors.verificationDisabled();
}

/** POST /auth/email/verify. The body is a free dict, as in the reference: `token` may be anything. */
export async function verifyEmail(ctx: AppContext, token: unknown, meta: RequestMeta): Promise<void> {
  if (isAbsent(token)) throw Errors.verificationTokenRequired();
  const claims = await ctx.tokens.verify(token, 'email_verification');
  if (!claims) throw Errors.invalidOrExpiredVerificationToken();
  const now = ctx.clock.now();
  await inUnitOfWork(ctx, async (trx) => {
    const spent = await consumeVerificationToken(trx, hashSecret(claims.jti), now);
    if (!spent) throw Errors.verificationTokenSpent();
    if (spent.user_id !== claims.sub) throw Errors.invalidVerificationToken();
    const outcome = await markEmailVerified(trx, { userId: spent.user_id, email: spent.email, now });
    if (outcome === 'no_user') throw Errors.invalidVerificationToken();
    // The link was sent to an address the user has since changed: it proves nothing about
    // the current one. Throwing rolls the token back too; it stays unusable all the same.
    if (outcome === 'email_changed') throw Errors.invalidOrExpiredVerificationToken();
    await recordAudit(trx, meta, { action: 'auth.email_verified', userId: spent.user_id, resourceType: 'user', resourceId: spent.user_id });
    const verified = await findUserById(trx, spent.user_id);
    if (verified) await emitEvent(ctx, trx, { type: 'user.email_verified', data: toUserResponse(verified) });
  });
}

/** The reference's `if not token`: Python's falsy values. Anything else is judged as a token. */
const isAbsent = (value: unknown): boolean =>
  value === undefined || value === null || value === false || value === 0 || value === '' ||
  (Array.isArray(value) && value.length === 0) ||
  (typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length === 0);
