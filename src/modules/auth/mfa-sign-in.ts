// The second step of an MFA-enrolled user's sign-in: POST /auth/mfa/verify redeems the
// mfa_token with a TOTP code, a recovery code or a passkey assertion. The challenge row is
// locked for the attempt, so parallel attempts on one token count one by one; the 5th wrong
// code kills it. Every wrong code also counts toward the account lockout. It ends at the seam
// (completeSecondFactor, sign-in.ts), so it is auth's, above mfa/ (the codes) and passkeys/
// (the assertion); its routes are mfa-sign-in.routes.ts.
import type { AuthenticationResponseJSON, PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import type { AppContext, RequestMeta } from '../../context.js';
import type { Executor } from '../../db/database.js';
import type { UserRow } from '../../db/schema.js';
import { Errors, validationError } from '../../lib/errors.js';
import { hashSecret } from '../../lib/random.js';
import { recordAudit } from '../audit/audit.repo.js';
import { reserveGuess } from '../lockout/lockout.repo.js';
import { lockAfterLastGuess } from '../lockout/password-check.js';
import { completeSecondFactor, type SecondFactorMethod } from './sign-in.js';
import { listPasskeys } from '../passkeys/passkeys.repo.js';
import { assertionOptions, checkAssertion } from '../passkeys/passkeys.service.js';
import type { TokenPair } from '../sessions/sessions.service.js';
import { findUserById } from '../users/users.repo.js';
import { spendRecoveryCode, spendTotpCode } from '../mfa/mfa-codes.js';
import { countMfaFailure, lockLiveMfaChallenge, setMfaPasskeyChallenge, spendMfaChallenge, type MfaChallengeRow } from '../mfa/mfa.repo.js';
import { inUnitOfWork } from '../../db/unit-of-work.js';

/** Wrong codes an mfa_token survives: the 5th kills it. */
export const MFA_TOKEN_MAX_FAILURES = 5;

export interface MfaVerifyBody {
  mfa_token: string;
  code?: string;
  recovery_code?: string;
  passkey_response?: AuthenticationResponseJSON;
}

type Outcome = { ok: true; tokens: TokenPair } | { ok: false; error: 'token' | 'code' };

export async function verifyMfa(ctx: AppContext, body: MfaVerifyBody, meta: RequestMeta): Promise<TokenPair> {
  const given = (['code', 'recovery_code', 'passkey_response'] as const).filter((key) => body[key] !== undefined);
  if (given.length !== 1) throw validationError(['body'], 'Give exactly one of code, recovery_code or passkey_response');
  const now = ctx.clock.now();
  const outcome = await inUnitOfWork(ctx, async (trx): Promise<Outcome> => {
    const challenge = await lockLiveMfaChallenge(trx, hashSecret(body.mfa_token), now);
    const user = challenge && (await findUserById(trx, challenge.user_id));
    if (!challenge || !user) return { ok: false, error: 'token' };
    const mayTry = await reserveGuess(trx, { userId: user.id, now, passwordRequired: false });
    const method = mayTry ? await checkSecondFactor(ctx, trx, { user, challenge, body }) : null;
    if (!method) {
      const failures = challenge.failed_attempts + 1;
      const killed = failures >= MFA_TOKEN_MAX_FAILURES;
      await countMfaFailure(trx, challenge.id, { failedAttempts: failures, killed, now });
      await recordAudit(trx, meta, {
        action: 'auth.mfa_failed',
        userId: user.id,
        resourceType: 'user',
        resourceId: user.id,
        details: { purpose: 'sign_in', method: given[0], reason: mayTry ? 'bad_code' : 'account_locked', token_killed: killed },
      });
      if (mayTry) await lockAfterLastGuess(trx, { userId: user.id, now, meta });
      return { ok: false, error: 'code' };
    }
    await spendMfaChallenge(trx, challenge.id, now);
    return { ok: true, tokens: await completeSecondFactor(ctx, trx, { user, challenge, second: method, meta }) };
  });
  if (outcome.ok) return outcome.tokens;
  ctx.metrics.signIns.inc('mfa', 'failure');
  throw outcome.error === 'token' ? Errors.invalidOrExpiredMfaToken() : Errors.mfaSignInCodeRejected();
}

async function checkSecondFactor(
  ctx: AppContext,
  trx: Executor,
  attempt: { user: UserRow; challenge: MfaChallengeRow; body: MfaVerifyBody },
): Promise<SecondFactorMethod | null> {
  const { user, challenge, body } = attempt;
  if (body.code !== undefined) return (await spendTotpCode(ctx, trx, { userId: user.id, code: body.code })) ? 'otp' : null;
  if (body.recovery_code !== undefined) return (await spendRecoveryCode(ctx, trx, { userId: user.id, code: body.recovery_code })) ? 'recovery_code' : null;
  // A passkey: against the challenge POST /auth/mfa/passkey/options stored on this token. A
  // passkey that was the first factor does not count twice.
  if (!challenge.passkey_challenge || challenge.first_factor === 'passkey') return null;
  const expected = challenge.passkey_challenge;
  // Each passkey challenge is answered once, right or wrong.
  await setMfaPasskeyChallenge(trx, challenge.id, null);
  const checked = await checkAssertion(ctx, trx, { response: body.passkey_response!, expectedChallenge: expected, userId: user.id });
  return checked ? 'passkey' : null;
}

/** POST /auth/mfa/passkey/options: an assertion challenge for the token's user's passkeys. */
export async function mfaPasskeyOptions(ctx: AppContext, mfaToken: string): Promise<{ options: PublicKeyCredentialRequestOptionsJSON }> {
  const now = ctx.clock.now();
  return inUnitOfWork(ctx, async (trx) => {
    const challenge = await lockLiveMfaChallenge(trx, hashSecret(mfaToken), now);
    if (!challenge) throw Errors.invalidOrExpiredMfaToken();
    const options = await assertionOptions(ctx, await listPasskeys(trx, challenge.user_id));
    await setMfaPasskeyChallenge(trx, challenge.id, options.challenge);
    return { options };
  });
}
