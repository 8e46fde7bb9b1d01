// Passwordless sign-in with a passkey (POST /auth/passkeys/login/options and …/verify): the
// passkey is the first factor (both factors when the authenticator verified the user), and the
// sign-in ends at the seam (sign-in.ts). The ceremony's challenge is stored server-side and
// spent once; the assertion is checked by passkeys/passkeys.service.ts.
import type { AuthenticationResponseJSON, PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import type { AppContext, RequestMeta } from '../../context.js';
import { inUnitOfWork } from '../../db/unit-of-work.js';
import { addSeconds } from '../../lib/clock.js';
import { AppError, Errors } from '../../lib/errors.js';
import { recordAudit } from '../audit/audit.repo.js';
import { insertWebauthnChallenge, spendLoginChallenge } from '../passkeys/passkeys.repo.js';
import { assertionOptions, checkAssertion, WEBAUTHN_CHALLENGE_TTL_SECONDS } from '../passkeys/passkeys.service.js';
import { findUserById } from '../users/users.repo.js';
import { completeSignIn, type SignInResult } from './sign-in.js';

type Deps = Pick<AppContext, 'config' | 'clock' | 'db' | 'jobs'>;

export async function passkeyLoginOptions(ctx: Deps): Promise<{ challenge_id: string; options: PublicKeyCredentialRequestOptionsJSON }> {
  const options = await assertionOptions(ctx);
  const now = ctx.clock.now();
  const id = await insertWebauthnChallenge(ctx.db, { challenge: options.challenge, purpose: 'login', userId: null, expiresAt: addSeconds(now, WEBAUTHN_CHALLENGE_TTL_SECONDS), now });
  return { challenge_id: id, options };
}

/** Passwordless sign-in: a passkey is the first factor (both factors when the user was verified). */
export async function signInWithPasskey(
  ctx: AppContext,
  body: { challenge_id: string; response: AuthenticationResponseJSON },
  meta: RequestMeta,
): Promise<SignInResult> {
  const now = ctx.clock.now();
  const challenge = await spendLoginChallenge(ctx.db, body.challenge_id, now);
  const failed = async (reason: string): Promise<AppError> => {
    await recordAudit(ctx.db, meta, { action: 'auth.passkey_login_failed', userId: null, resourceType: 'passkey', details: { reason } });
    ctx.metrics.signIns.inc('passkey', 'failure');
    return Errors.passkeySignInFailed();
  };
  if (!challenge) throw await failed('unknown_or_spent_challenge');
  const result = await inUnitOfWork(ctx, async (trx) => {
    const checked = await checkAssertion(ctx, trx, { response: body.response, expectedChallenge: challenge });
    if (!checked) return null;
    const user = await findUserById(trx, checked.passkey.user_id);
    if (!user) return null;
    return completeSignIn(ctx, trx, {
      user,
      factor: {
        method: 'passkey',
        audit: { action: 'auth.passkey_login', details: { passkey_id: checked.passkey.id, user_verified: checked.userVerified } },
        multiFactor: checked.userVerified,
      },
      meta,
    });
  });
  if (!result) throw await failed('assertion_refused');
  return result;
}
