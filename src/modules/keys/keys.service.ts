// Signing keys: the first keys, rotation (next → current → previous, a new next), revocation,
// and the periodic task (automatic rotation every JWT_KEY_ROTATION_DAYS; previous keys deleted
// once every token they signed has expired). Every change locks the key set's version row and
// moves it on, so changes never interleave and every instance reloads (key-ring.ts).
import type { AppContext, RequestMeta } from '../../context.js';
import { addDays, addSeconds } from '../../lib/clock.js';
import { Errors } from '../../lib/errors.js';
import type { Executor } from '../../db/database.js';
import { recordAudit } from '../audit/audit.repo.js';
import { createKeyPair, type AsymmetricAlgorithm, type NewKeyPair } from './key-material.js';
import {
  activateKey,
  deleteExpiredPreviousKeys,
  deleteUnusedKey,
  insertKey,
  listKeys,
  listLiveKeys,
  lockKeySetForChange,
  retireCurrentKey,
  revokeKeyRow,
  setLegacyHs256Until,
  type SigningKeyRow,
} from './keys.repo.js';

export type KeysDeps = Pick<AppContext, 'db' | 'clock' | 'config' | 'secrets'>;

/** Tolerated clock skew between instances when deciding a key's tokens have all expired. */
const EXPIRY_MARGIN_SECONDS = 60;

/** The longest any token lives (refresh tokens, unless configured shorter than a day). */
export function longestTokenLifetimeSeconds(config: KeysDeps['config']): number {
  return Math.max(config.refreshTokenExpireDays * 86_400, 86_400, config.accessTokenExpireMinutes * 60);
}

const configuredAlgorithm = (deps: KeysDeps): AsymmetricAlgorithm => {
  const alg = deps.config.jwtAlgorithm;
  if (alg === 'HS256') throw new Error('signing keys are not used in HS256 mode (JWT_ALGORITHM=HS256)');
  return alg;
};

async function storeKey(deps: KeysDeps, trx: Executor, pair: NewKeyPair, state: 'next' | 'current', now: Date): Promise<void> {
  const sealedPrivateKey = deps.secrets.seal(pair.privatePem, `signing-key:${pair.kid}`);
  await insertKey(trx, { kid: pair.kid, alg: pair.alg, state, publicJwk: pair.publicJwk, sealedPrivateKey, now });
}

/**
 * At start: a current and a next key of JWT_ALGORITHM. On a database upgraded from 0.1 (an
 * HS256 secret exists and no key ever did), the old secret's tokens stay accepted for the
 * longest token lifetime from now. A changed JWT_ALGORITHM rotates to a key of the new one.
 */
export async function ensureSigningKeys(deps: KeysDeps, legacySecretExists: boolean): Promise<void> {
  const alg = configuredAlgorithm(deps);
  const satisfied = (keys: SigningKeyRow[]) =>
    keys.some((k) => k.state === 'current' && k.alg === alg) && keys.some((k) => k.state === 'next' && k.alg === alg);
  if (satisfied(await listLiveKeys(deps.db))) return;
  // Made before the transaction: an RSA pair takes a while, and no lock should wait for it.
  const pairs = [await createKeyPair(alg), await createKeyPair(alg)];
  await deps.db.transaction().execute(async (trx) => {
    await lockKeySetForChange(trx);
    const everyKey = await listKeys(trx);
    const live = everyKey.filter((k) => k.state !== 'revoked');
    if (satisfied(live)) return; // another instance did it first
    const now = deps.clock.now();
    if (everyKey.length === 0 && legacySecretExists) {
      await setLegacyHs256Until(trx, addSeconds(now, longestTokenLifetimeSeconds(deps.config) + EXPIRY_MARGIN_SECONDS));
    }
    const current = live.find((k) => k.state === 'current');
    if (!current || current.alg !== alg) {
      await promoteNext(deps, trx, live, pairs, now);
    } else {
      const next = live.find((k) => k.state === 'next');
      if (next) await deleteUnusedKey(trx, next.kid);
      await storeKey(deps, trx, pairs.pop()!, 'next', now);
    }
  });
}

/**
 * The rotation itself, inside a locked transaction: the current key (if any) becomes previous,
 * the next key becomes current (a fresh one if there is no next of the configured algorithm),
 * and a new next is made. Returns the new current kid.
 */
async function promoteNext(deps: KeysDeps, trx: Executor, live: SigningKeyRow[], pairs: NewKeyPair[], now: Date): Promise<string> {
  const alg = configuredAlgorithm(deps);
  await retireCurrentKey(trx, now);
  const next = live.find((k) => k.state === 'next');
  let currentKid: string;
  if (next && next.alg === alg) {
    await activateKey(trx, next.kid, now);
    currentKid = next.kid;
  } else {
    if (next) await deleteUnusedKey(trx, next.kid);
    const pair = pairs.pop()!;
    await storeKey(deps, trx, pair, 'current', now);
    currentKid = pair.kid;
  }
  await storeKey(deps, trx, pairs.pop()!, 'next', now);
  return currentKid;
}

export interface RotationResult {
  current: string;
  previous: string | null;
  next: string;
}

/** `keyhold keys rotate`, and the automatic rotation. */
export async function rotateSigningKeys(deps: KeysDeps, meta: RequestMeta | null, options: { automatic?: boolean; actorId?: string } = {}): Promise<RotationResult> {
  const alg = configuredAlgorithm(deps);
  const pairs = [await createKeyPair(alg), await createKeyPair(alg)];
  return deps.db.transaction().execute(async (trx) => {
    await lockKeySetForChange(trx);
    const live = await listLiveKeys(trx);
    const previous = live.find((k) => k.state === 'current')?.kid ?? null;
    const now = deps.clock.now();
    const current = await promoteNext(deps, trx, live, pairs, now);
    const next = (await listLiveKeys(trx)).find((k) => k.state === 'next')!.kid;
    await recordAudit(trx, meta, {
      action: 'keys.rotated',
      userId: options.actorId ?? null,
      resourceType: 'signing_key',
      resourceId: current,
      details: { previous, next, automatic: options.automatic === true },
    });
    return { current, previous, next };
  });
}

/**
 * `keyhold keys revoke KID`: the key leaves the JWKS and its tokens are refused at once (on
 * other instances at their next poll). Revoking the current key promotes the next one, and
 * revoking the next one makes a new next, so there is always a key to sign with.
 */
export async function revokeSigningKey(deps: KeysDeps, kid: string, meta: RequestMeta | null, options: { actorId?: string } = {}): Promise<{ kid: string; was: string }> {
  const alg = configuredAlgorithm(deps);
  const pairs = [await createKeyPair(alg), await createKeyPair(alg)];
  return deps.db.transaction().execute(async (trx) => {
    await lockKeySetForChange(trx);
    const now = deps.clock.now();
    const was = await revokeKeyRow(trx, kid, now);
    if (was === undefined) throw Errors.signingKeyNotFound();
    if (was === 'current') {
      await promoteNext(deps, trx, await listLiveKeys(trx), pairs, now);
    } else if (was === 'next') {
      await storeKey(deps, trx, pairs.pop()!, 'next', now);
    }
    await recordAudit(trx, meta, { action: 'keys.revoked', userId: options.actorId ?? null, resourceType: 'signing_key', resourceId: kid, details: { state: was } });
    return { kid, was };
  });
}

/** `keyhold keys list`: every key, revoked ones included, newest first. */
export async function listSigningKeys(deps: Pick<KeysDeps, 'db'>): Promise<SigningKeyRow[]> {
  return listKeys(deps.db);
}

/** The public JWKs of the keys that verify (next, current, previous), for the JWKS. */
export async function publishedKeys(deps: Pick<KeysDeps, 'db'>): Promise<SigningKeyRow['public_jwk'][]> {
  return (await listLiveKeys(deps.db)).map((k) => k.public_jwk);
}

/**
 * The periodic task: rotates when the current key is JWT_KEY_ROTATION_DAYS old (0: never), and
 * deletes previous keys whose every token has expired. Reads first and locks only when there is
 * something to do. Returns whether anything changed.
 */
export async function maintainSigningKeys(deps: KeysDeps): Promise<boolean> {
  const now = deps.clock.now();
  const live = await listLiveKeys(deps.db);
  const retiredBefore = addSeconds(now, -(longestTokenLifetimeSeconds(deps.config) + EXPIRY_MARGIN_SECONDS));
  const expired = live.some((k) => k.state === 'previous' && k.retired_at !== null && k.retired_at < retiredBefore);
  const current = live.find((k) => k.state === 'current');
  const rotationDue =
    deps.config.jwtKeyRotationDays > 0 &&
    current?.activated_at != null &&
    addDays(current.activated_at, deps.config.jwtKeyRotationDays) <= now;
  let changed = false;
  if (expired) {
    await deps.db.transaction().execute(async (trx) => {
      await lockKeySetForChange(trx);
      await deleteExpiredPreviousKeys(trx, retiredBefore);
    });
    changed = true;
  }
  if (rotationDue) {
    await rotateSigningKeys(deps, null, { automatic: true });
    changed = true;
  }
  return changed;
}
