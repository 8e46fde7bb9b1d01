// Removing every second factor and passkey of a user at once, in the caller's transaction: the
// admin's MFA reset (a user who lost their device) and an account reclaim (factors a squatter
// planted before the address's owner arrived). One list, so neither can forget a kind. Here in
// auth/, above both modules whose rows it removes (mfa/, passkeys/); its callers are
// admin/mfa-reset.ts and oauth/sign-in.ts.
import type { Executor } from '../../db/database.js';
import { deleteUserPasskeys, endRegistrationChallenges } from '../passkeys/passkeys.repo.js';
import { deleteUserMfaCounted, endLiveMfaChallenges } from '../mfa/mfa.repo.js';

/** What went, for the audit row. */
export interface RemovedFactors {
  totp: boolean;
  recovery_codes: number;
  passkeys: number;
  /** Sign-ins waiting for their second factor (mfa_token). */
  mfa_challenges: number;
  /** Passkey registrations begun and not finished. */
  passkey_challenges: number;
}

/** TOTP, recovery codes, passkeys, and every pending challenge that could still add or use one.
 *  The caller clears users.mfa_enabled (with its event) and ends the sessions. */
export async function removeEveryFactor(trx: Executor, userId: string, now: Date): Promise<RemovedFactors> {
  const { totp, recoveryCodes } = await deleteUserMfaCounted(trx, userId);
  return {
    totp,
    recovery_codes: recoveryCodes,
    passkeys: await deleteUserPasskeys(trx, userId),
    mfa_challenges: await endLiveMfaChallenges(trx, userId, now),
    passkey_challenges: await endRegistrationChallenges(trx, userId, now),
  };
}
