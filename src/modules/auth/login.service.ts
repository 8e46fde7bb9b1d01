// POST /auth/login and /auth/login/json.
import type { AppContext, RequestMeta } from '../../context.js';
import type { UserRow } from '../../db/schema.js';
import { AppError, badRequest, inactiveUser } from '../../lib/errors.js';
import { normalizeEmail } from '../../lib/email-address.js';
import { recordAudit } from '../audit/audit.repo.js';
import { startSession, type TokenPair } from '../sessions/sessions.service.js';
import { findUserByEmail, linkedProviders, updateUser } from '../users/users.repo.js';

const incorrectCredentials = (): AppError =>
  new AppError(401, 'Incorrect email or password', { 'WWW-Authenticate': 'Bearer' });

export async function login(ctx: AppContext, emailInput: string, password: string, meta: RequestMeta): Promise<TokenPair> {
  const email = normalizeEmail(emailInput);
  const user = await findUserByEmail(ctx.db, email);
  if (user && user.password_hash === null) await rejectPasswordless(ctx, user);

  // Unknown users cost the same argon2 work as known ones (verify(null) hashes a dummy).
  const { valid, needsRehash } = await ctx.passwords.verify(user?.password_hash ?? null, password);
  if (!user || !valid) {
    await recordAudit(ctx.db, meta, {
      action: 'auth.login_failed',
      userId: user?.id ?? null,
      resourceType: 'user',
      resourceId: user?.id,
      details: user ? { reason: 'bad_password' } : { reason: 'unknown_email', email },
    });
    throw incorrectCredentials();
  }
  if (!user.is_active) throw inactiveUser();

  const newHash = needsRehash ? await ctx.passwords.hash(password) : undefined;
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    await updateUser(trx, user.id, { last_login: now, ...(newHash ? { password_hash: newHash } : {}) }, now);
    await recordAudit(trx, meta, { action: 'auth.login', userId: user.id, resourceType: 'user', resourceId: user.id });
    return startSession(ctx, trx, user);
  });
}

/** A user who signs in only through OAuth is told which providers to use. */
export async function rejectPasswordless(ctx: Pick<AppContext, 'db'>, user: UserRow): Promise<void> {
  if (user.password_hash !== null) return;
  throw badRequest({ error: 'use_oauth_provider', providers: await linkedProviders(ctx.db, user.id) });
}
