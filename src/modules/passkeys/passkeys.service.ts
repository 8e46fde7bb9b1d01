// Passkeys (WebAuthn, @simplewebauthn/server): registration by a signed-in user, management,
// and the assertion check that passwordless sign-in (auth/passkey-sign-in.ts) and the second
// factor (auth/mfa-sign-in.ts) share. Every ceremony's challenge is stored server-side, spent
// once, and lives 5 minutes; origin and RP ID are checked against WEBAUTHN_ORIGINS /
// WEBAUTHN_RP_ID, and the signature counter must advance.
import type * as WebAuthn from '@simplewebauthn/server';
import type {
  AuthenticationResponseJSON,
  AuthenticatorTransportFuture,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { AppContext, RequestMeta } from '../../context.js';
import { isUniqueViolation } from '../../db/errors.js';
import type { UserRow } from '../../db/schema.js';
import { addSeconds } from '../../lib/clock.js';
import { Errors } from '../../lib/errors.js';
import type { Executor } from '../../db/database.js';
import { recordAudit } from '../audit/audit.repo.js';
import { proveFactorChange, type FactorChangeRequest } from '../mfa/step-up.js';
import { lockLiveSession } from '../sessions/sessions.repo.js';
import { findUserById } from '../users/users.repo.js';
import {
  deletePasskey,
  findPasskeyByCredentialId,
  insertPasskey,
  insertWebauthnChallenge,
  listPasskeys,
  recordPasskeyUse,
  renamePasskey,
  spendRegistrationChallenge,
  type PasskeyRow,
} from './passkeys.repo.js';
import { inUnitOfWork } from '../../db/unit-of-work.js';

// @simplewebauthn/server (and its CBOR, COSE and ASN.1 parsers) loads with the first passkey
// ceremony, not at start: most requests never need it.
let webauthn: Promise<typeof WebAuthn> | undefined;
const loadWebAuthn = (): Promise<typeof WebAuthn> => (webauthn ??= import('@simplewebauthn/server'));

export const WEBAUTHN_CHALLENGE_TTL_SECONDS = 5 * 60;
const DEFAULT_PASSKEY_NAME = 'Passkey';

export interface PasskeyResponse {
  id: string;
  name: string;
  created_at: string;
  last_used_at: string | null;
}

export const toPasskeyResponse = (p: PasskeyRow): PasskeyResponse => ({
  id: p.id,
  name: p.name,
  created_at: p.created_at.toISOString(),
  last_used_at: p.last_used_at?.toISOString() ?? null,
});

type Deps = Pick<AppContext, 'config' | 'clock' | 'db' | 'jobs'>;

const transportsOf = (p: PasskeyRow) => p.transports as AuthenticatorTransportFuture[];

export interface RegistrationOptionsRequest {
  user: UserRow;
  request: FactorChangeRequest;
  meta: RequestMeta;
}

/**
 * Creation options for a signed-in user. An MFA-enrolled user's session must be aal2, or the
 * request carry a fresh code (mfa/step-up.ts); the challenge remembers that proof, so the
 * ceremony's second step needs nothing more.
 */
export async function registrationOptions(
  ctx: AppContext,
  { user, request, meta }: RegistrationOptionsRequest,
): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const proof = await proveFactorChange(ctx, meta, { user, request, purpose: 'passkey_register' });
  const { rpId, rpName } = ctx.config.webauthn;
  const existing = await listPasskeys(ctx.db, user.id);
  const options = await (await loadWebAuthn()).generateRegistrationOptions({
    rpName,
    rpID: rpId,
    userName: user.email,
    userDisplayName: user.name,
    userID: new TextEncoder().encode(user.id),
    attestationType: 'none',
    timeout: WEBAUTHN_CHALLENGE_TTL_SECONDS * 1000,
    excludeCredentials: existing.map((p) => ({ id: p.credential_id, transports: transportsOf(p) })),
    // A discoverable credential: passwordless sign-in finds it without an email.
    authenticatorSelection: { residentKey: 'required', requireResidentKey: true, userVerification: 'preferred' },
  });
  const now = ctx.clock.now();
  await insertWebauthnChallenge(ctx.db, {
    challenge: options.challenge,
    purpose: 'register',
    userId: user.id,
    secondFactorProven: proof !== 'not_enrolled',
    expiresAt: addSeconds(now, WEBAUTHN_CHALLENGE_TTL_SECONDS),
    now,
  });
  return options;
}

/** The challenge a client signed, from its clientDataJSON; undefined if unreadable. */
function signedChallenge(response: { response?: { clientDataJSON?: unknown } }): string | undefined {
  try {
    const encoded = response.response?.clientDataJSON;
    if (typeof encoded !== 'string') return undefined;
    const clientData = JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8')) as { challenge?: unknown };
    return typeof clientData.challenge === 'string' && clientData.challenge.length <= 512 ? clientData.challenge : undefined;
  } catch {
    return undefined;
  }
}

export interface RegisterPasskey {
  user: UserRow;
  body: { response: RegistrationResponseJSON; name?: string | null };
  session: { sessionId: string };
  meta: RequestMeta;
}

export async function registerPasskey(ctx: Deps, { user, body, session, meta }: RegisterPasskey): Promise<PasskeyResponse> {
  const now = ctx.clock.now();
  const challenge = signedChallenge(body.response);
  // The challenge is spent first: a failed attempt cannot be replayed with it.
  const spent = challenge ? await spendRegistrationChallenge(ctx.db, { userId: user.id, challenge, now }) : undefined;
  if (!challenge || !spent) throw Errors.passkeyRegistrationFailed();

  const { rpId, origins } = ctx.config.webauthn;
  let info;
  try {
    const verification = await (await loadWebAuthn()).verifyRegistrationResponse({
      response: body.response,
      expectedChallenge: challenge,
      expectedOrigin: origins,
      expectedRPID: rpId,
      requireUserVerification: false,
    });
    if (!verification.verified) throw Errors.passkeyRegistrationFailed();
    info = verification.registrationInfo;
  } catch {
    throw Errors.passkeyRegistrationFailed();
  }
  try {
    return await inUnitOfWork(ctx, async (trx) => {
      // Added only while the asking session is live (not ended by a reclaim meanwhile), and,
      // for a user enrolled in MFA since the options were issued without proof, only at aal2.
      const aal = await lockLiveSession(trx, user.id, session.sessionId);
      if (!aal) throw Errors.credentials();
      const enrolled = (await findUserById(trx, user.id))?.mfa_enabled ?? user.mfa_enabled;
      if (enrolled && !spent.secondFactorProven && aal !== 'aal2') throw Errors.secondFactorRequired();
      const passkey = await insertPasskey(trx, {
        userId: user.id,
        credentialId: info.credential.id,
        publicKey: Buffer.from(info.credential.publicKey).toString('base64url'),
        counter: info.credential.counter,
        transports: info.credential.transports ?? [],
        deviceType: info.credentialDeviceType,
        backedUp: info.credentialBackedUp,
        name: body.name ?? DEFAULT_PASSKEY_NAME,
        now,
      });
      await recordAudit(trx, meta, {
        action: 'auth.passkey_registered',
        userId: user.id,
        resourceType: 'passkey',
        resourceId: passkey.id,
        details: { name: passkey.name, device_type: info.credentialDeviceType, backed_up: info.credentialBackedUp },
      });
      return toPasskeyResponse(passkey);
    });
  } catch (err) {
    // The credential is registered already (to this user or another).
    if (isUniqueViolation(err)) throw Errors.passkeyRegistrationFailed();
    throw err;
  }
}

export async function userPasskeys(ctx: Deps, user: UserRow): Promise<PasskeyResponse[]> {
  return (await listPasskeys(ctx.db, user.id)).map(toPasskeyResponse);
}

export interface RenameUserPasskey {
  user: UserRow;
  id: string;
  name: string;
  meta: RequestMeta;
}

export async function renameUserPasskey(ctx: Deps, { user, id, name, meta }: RenameUserPasskey): Promise<PasskeyResponse> {
  return inUnitOfWork(ctx, async (trx) => {
    const passkey = await renamePasskey(trx, { userId: user.id, id, name });
    if (!passkey) throw Errors.passkeyNotFound();
    await recordAudit(trx, meta, { action: 'auth.passkey_renamed', userId: user.id, resourceType: 'passkey', resourceId: id, details: { name } });
    return toPasskeyResponse(passkey);
  });
}

export interface DeleteUserPasskey {
  user: UserRow;
  id: string;
  request: FactorChangeRequest;
  meta: RequestMeta;
}

/** Removing a passkey takes the same proof as adding one (mfa/step-up.ts). */
export async function deleteUserPasskey(ctx: AppContext, { user, id, request, meta }: DeleteUserPasskey): Promise<void> {
  // An unknown id is a 404 before any code is spent.
  if (!(await listPasskeys(ctx.db, user.id)).some((p) => p.id === id)) throw Errors.passkeyNotFound();
  const proof = await proveFactorChange(ctx, meta, { user, request, purpose: 'passkey_delete' });
  await inUnitOfWork(ctx, async (trx) => {
    const passkey = await deletePasskey(trx, user.id, id);
    if (!passkey) throw Errors.passkeyNotFound();
    await recordAudit(trx, meta, { action: 'auth.passkey_deleted', userId: user.id, resourceType: 'passkey', resourceId: id, details: { name: passkey.name, proof } });
  });
}

/** Options for an assertion; `allow` lists the credentials of a known user (second factor). */
export async function assertionOptions(ctx: Pick<AppContext, 'config'>, allow?: PasskeyRow[]): Promise<PublicKeyCredentialRequestOptionsJSON> {
  return (await loadWebAuthn()).generateAuthenticationOptions({
    rpID: ctx.config.webauthn.rpId,
    userVerification: 'preferred',
    timeout: WEBAUTHN_CHALLENGE_TTL_SECONDS * 1000,
    ...(allow ? { allowCredentials: allow.map((p) => ({ id: p.credential_id, transports: transportsOf(p) })) } : {}),
  });
}

export interface CheckedAssertion {
  passkey: PasskeyRow;
  userVerified: boolean;
}

/**
 * Verifies an assertion against `expectedChallenge` (already spent by the caller) and records
 * the use in `trx` (the signature counter must advance). `userId`: only that user's passkeys.
 * Null for every failure, whatever it was.
 */
export async function checkAssertion(
  ctx: Pick<AppContext, 'config' | 'clock'>,
  trx: Executor,
  assertion: { response: AuthenticationResponseJSON; expectedChallenge: string; userId?: string },
): Promise<CheckedAssertion | null> {
  const { response, expectedChallenge, userId } = assertion;
  if (typeof response?.id !== 'string' || response.id.length > 1024) return null;
  const passkey = await findPasskeyByCredentialId(trx, response.id);
  if (!passkey || (userId !== undefined && passkey.user_id !== userId)) return null;
  // A discoverable credential names its user: it must be the passkey's.
  const userHandle = response.response?.userHandle;
  if (userHandle && userHandle !== Buffer.from(passkey.user_id, 'utf8').toString('base64url')) return null;
  const { rpId, origins } = ctx.config.webauthn;
  let info;
  try {
    const verification = await (await loadWebAuthn()).verifyAuthenticationResponse({
      response,
      expectedChallenge,
      expectedOrigin: origins,
      expectedRPID: rpId,
      credential: { id: passkey.credential_id, publicKey: new Uint8Array(Buffer.from(passkey.public_key, 'base64url')), counter: passkey.counter, transports: transportsOf(passkey) },
      requireUserVerification: false,
    });
    if (!verification.verified) return null;
    info = verification.authenticationInfo;
  } catch {
    // Bad signature, origin, RP ID or challenge, or a counter that went backwards (a cloned key).
    return null;
  }
  if (!(await recordPasskeyUse(trx, passkey.id, { checkedCounter: passkey.counter, newCounter: info.newCounter, now: ctx.clock.now() }))) return null;
  return { passkey, userVerified: info.userVerified };
}
