// POST /auth/login and /auth/login/json.
import type { AppContext, RequestMeta } from '../../context.js';
import type { UserRow } from '../../db/schema.js';
import { Errors } from '../../lib/errors.js';
import { isValidEmail, normalizeEmail } from '../../lib/email-address.js';
import { recordAudit } from '../audit/audit.repo.js';
import { findUserAndReserveAttempt, releaseGuess } from '../lockout/lockout.repo.js';
import { lockAfterLastGuess, rejectPasswordless } from '../lockout/password-check.js';
import { completeSignIn, isMfaChallenge, type SignInResult } from './sign-in.js';
import { enforcedSsoFor } from '../sso-policy/enforcement.js';
import { inUnitOfWork } from '../../db/unit-of-work.js';

export interface Login {
  /** As typed: normalized here. */
  email: string;
  password: string;
  meta: RequestMeta;
}

export async function login(ctx: AppContext, { email: emailInput, password, meta }: Login): Promise<SignInResult> {
  const email = normalizeEmail(emailInput);
  const now = ctx.clock.now();
  const { user, mayTry } = await findUserAndReserveAttempt(ctx.db, email, now);
  if (user && user.password_hash === null) await rejectPasswordless(ctx, user);

  // Unknown and locked users cost the same argon2 work as a real check (verify(null) hashes
  // a dummy), and get the same answer as a wrong password.
  const { valid, needsRehash } = await ctx.passwords.verify(mayTry ? user!.password_hash : null, password);
  if (!user || !valid) {
    await recordFailure(ctx, meta, { email, user, guessCounted: mayTry, now });
    throw Errors.incorrectEmailOrPassword();
  }
  // The right password gives its guess back: a completed sign-in starts the count afresh in
  // its own write (recordSignInWrite); an MFA-enrolled user's only once the second factor
  // passes, so a sign-in that stops at the second step gives it back in the same transaction,
  // and one refused (inactive, SSO enforced: completeSignIn, the one place those rules live)
  // gives it back after the rollback. A right password never uses up the account's guesses.
  try {
    // Inside the try: a rehash that fails (argon2 out of memory) must give the guess back too.
    const rehashedPassword = needsRehash ? await ctx.passwords.hash(password) : undefined;
    // The SSO policy is read here, after the password check and just before the sign-in's
    // write, outside the transaction: so that write is the transaction's only statement, sent
    // without BEGIN and COMMIT (db/after-commit.ts). Not earlier (with the user, before
    // argon2id): an enforcement turned on during the check would then not stop this sign-in,
    // and its session would outlive the sweep of sessions that enforcement makes.
    const ssoEnforcement = (await enforcedSsoFor(ctx.db, user.email)) ?? null;
    return await inUnitOfWork(ctx, async (trx) => {
      const result = await completeSignIn(ctx, trx, { user, factor: { method: 'pwd', audit: { action: 'auth.login' }, rehashedPassword, ssoEnforcement }, meta });
      if (isMfaChallenge(result)) await releaseGuess(trx, user.id);
      return result;
    });
  } catch (err) {
    await releaseGuess(ctx.db, user.id);
    throw err;
  }
}

async function recordFailure(
  ctx: AppContext,
  meta: RequestMeta,
  failure: { email: string; user: UserRow | undefined; guessCounted: boolean; now: Date },
): Promise<void> {
  const { email, user, guessCounted, now } = failure;
  await inUnitOfWork(ctx, async (trx) => {
    const reason = !user ? 'unknown_email' : guessCounted ? 'bad_password' : 'account_locked';
    // People type passwords into the username field: an unknown "email" is kept only when it
    // is one, so a mistyped password never lands in the audit log.
    const attempted = !user && isValidEmail(email) ? { email } : {};
    await recordAudit(trx, meta, {
      action: 'auth.login_failed',
      userId: user?.id ?? null,
      resourceType: 'user',
      resourceId: user?.id,
      details: { reason, ...attempted },
    });
    if (user && guessCounted) await lockAfterLastGuess(trx, { userId: user.id, now, meta });
  });
  ctx.metrics.signIns.inc('pwd', user && !guessCounted ? 'locked' : 'failure');
}
