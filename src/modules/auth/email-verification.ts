// Creating a single-use email-verification token and queueing its email.
import type { Kysely } from 'kysely';
import type { AppContext } from '../../context.js';
import type { Database } from '../../db/schema.js';
import { hashSecret } from '../../lib/random.js';
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
