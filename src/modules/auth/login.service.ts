// POST /auth/login and /auth/login/json.
import type { AppContext, RequestMeta } from '../../context.js';
import type { UserRow } from '../../db/schema.js';
import { AppError, badRequest, inactiveUser } from '../../lib/errors.js';
import { normalizeEmail } from '../../lib/email-address.js';
import { recordAudit } from '../audit/audit.repo.js';
import { startSession, type TokenPair } from '../sessions/sessions.service.js';
import { linkedProviders, updateUser } from '../users/users.repo.js';
import { findUserAndReserveAttempt, LOCKOUT_CLEARED, lockIfExhausted } from './lockout.repo.js';

const incorrectCredentials = (): AppError =>
  new AppError(401, 'Incorrect email or password', { 'WWW-Authenticate': 'Bearer' });

export async function login(ctx: AppContext, emailInput: string, password: string, meta: RequestMeta): Promise<TokenPair> {
  const email = normalizeEmail(emailInput);
  const now = ctx.clock.now();
  const { user, mayTry } = await findUserAndReserveAttempt(ctx.db, email, now);
  if (user && user.password_hash === null) await rejectPasswordless(ctx, user);

  // Unknown and locked users cost the same argon2 work as a real check (verify(null) hashes
  // a dummy), and get the same answer as a wrong password.
  const { valid, needsRehash } = await ctx.passwords.verify(mayTry ? user!.password_hash : null, password);
  if (!user || !valid) {
    await recordFailure(ctx, meta, email, user, mayTry, now);
    throw incorrectCredentials();
  }
  if (!user.is_active) throw inactiveUser();

  const newHash = needsRehash ? await ctx.passwords.hash(password) : undefined;
  return ctx.db.transaction().execute(async (trx) => {
    // One statement: the sign-in is recorded and the failure count starts afresh.
    await updateUser(trx, user.id, { last_login: now, ...LOCKOUT_CLEARED, ...(newHash ? { password_hash: newHash } : {}) }, now);
    await recordAudit(trx, meta, { action: 'auth.login', userId: user.id, resourceType: 'user', resourceId: user.id });
    return startSession(ctx, trx, user);
  });
}

async function recordFailure(
  ctx: AppContext,
  meta: RequestMeta,
  email: string,
  user: UserRow | undefined,
  guessCounted: boolean,
  now: Date,
): Promise<void> {
  await ctx.db.transaction().execute(async (trx) => {
    const reason = !user ? 'unknown_email' : guessCounted ? 'bad_password' : 'account_locked';
    await recordAudit(trx, meta, {
      action: 'auth.login_failed',
      userId: user?.id ?? null,
      resourceType: 'user',
      resourceId: user?.id,
      details: user ? { reason } : { reason, email },
    });
    if (!user || !guessCounted) return;
    const lockedUntil = await lockIfExhausted(trx, user.id, now);
    if (lockedUntil) {
      await recordAudit(trx, meta, {
        action: 'auth.account_locked',
        userId: user.id,
        resourceType: 'user',
        resourceId: user.id,
        details: { locked_until: lockedUntil.toISOString() },
      });
    }
  });
}

/** A user who signs in only through OAuth is told which providers to use. */
export async function rejectPasswordless(ctx: Pick<AppContext, 'db'>, user: UserRow): Promise<void> {
  if (user.password_hash !== null) return;
  throw badRequest({ error: 'use_oauth_provider', providers: await linkedProviders(ctx.db, user.id) });
}
