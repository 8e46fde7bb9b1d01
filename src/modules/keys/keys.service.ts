// Signing keys: the first keys, rotation (next → current → previous, a new next), revocation,
// and the periodic task (automatic rotation every JWT_KEY_ROTATION_DAYS; previous keys deleted
// once every token they signed has expired). Every change locks the key set's version row and
// moves it on, so changes never interleave and every instance reloads (key-ring.ts).
import type { AppContext, RequestMeta } from '../../context.js';
import { addDays, addSeconds } from '../../lib/clock.js';
import { Errors } from '../../lib/errors.js';
import type { Executor } from '../../db/database.js';
import { recordAudit } from '../audit/audit.repo.js';
import { longestTokenLifetimeSeconds } from './token-lifetimes.js';
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

export { longestTokenLifetimeSeconds } from './token-lifetimes.js';

/**
 * The algorithms the ring keeps a current and a next key of: JWT_ALGORITHM's (first-party tokens
 * and, by default, the provider's), and with the OpenID Provider on an RS256 key too, for clients
 * registered with id_token_signed_response_alg RS256 (the contract: "the ring then keeps an RS256
 * key too, rotated with the rest"). Always while the provider is on, not when a client first asks:
 * a key must be published, and loaded by every instance, before anything is signed with it, and a
 * client may be registered on any instance at any moment.
 */
export function signingAlgorithms(config: KeysDeps['config']): AsymmetricAlgorithm[] {
  const alg = config.jwtAlgorithm;
  if (alg === 'HS256') throw new Error('signing keys are not used in HS256 mode (JWT_ALGORITHM=HS256)');
  return config.oidcProvider.enabled && alg !== 'RS256' ? [alg, 'RS256'] : [alg];
}

/** Fresh pairs, two per algorithm, made before any transaction: an RSA pair takes a while, and
 *  no lock should wait for it. `take(alg)` hands them out. */
async function freshPairs(algs: AsymmetricAlgorithm[]): Promise<(alg: AsymmetricAlgorithm) => NewKeyPair> {
  const pairs = new Map<AsymmetricAlgorithm, NewKeyPair[]>();
  for (const alg of algs) pairs.set(alg, [await createKeyPair(alg), await createKeyPair(alg)]);
  return (alg) => {
    const pair = pairs.get(alg)?.pop();
    if (!pair) throw new Error(`no fresh ${alg} key pair left`);
    return pair;
  };
}

async function storeKey(deps: KeysDeps, trx: Executor, key: { pair: NewKeyPair; state: 'next' | 'current'; now: Date }): Promise<void> {
  const { pair, state, now } = key;
  const sealedPrivateKey = deps.secrets.seal(pair.privatePem, `signing-key:${pair.kid}`);
  await insertKey(trx, { kid: pair.kid, alg: pair.alg, state, publicJwk: pair.publicJwk, sealedPrivateKey, now });
}

/** Every wanted algorithm has a current and a next key, and no other algorithm a current one. */
function satisfied(keys: SigningKeyRow[], algs: AsymmetricAlgorithm[]): boolean {
  const has = (alg: AsymmetricAlgorithm, state: 'current' | 'next') => keys.some((k) => k.state === state && k.alg === alg);
  return algs.every((alg) => has(alg, 'current') && has(alg, 'next')) && keys.every((k) => k.state !== 'current' || algs.includes(k.alg));
}

/**
 * The keys of an algorithm no longer wanted (JWT_ALGORITHM changed, or the provider turned off):
 * the current one retires (it verifies until its tokens expire), an unused next one goes.
 */
async function retireUnwanted(
  trx: Executor,
  { live, algs, now }: { live: SigningKeyRow[]; algs: AsymmetricAlgorithm[]; now: Date },
): Promise<void> {
  for (const key of live) {
    if (algs.includes(key.alg)) continue;
    if (key.state === 'current') await retireCurrentKey(trx, key.alg, now);
    if (key.state === 'next') await deleteUnusedKey(trx, key.kid);
  }
}

/**
 * At start: a current and a next key of each algorithm of signingAlgorithms. On a database
 * upgraded from 0.1 (an HS256 secret exists and no key ever did), the old secret's tokens stay
 * accepted for the longest token lifetime from now. A changed JWT_ALGORITHM rotates to a key of
 * the new one.
 */
export async function ensureSigningKeys(deps: KeysDeps, legacySecretExists: boolean): Promise<void> {
  const algs = signingAlgorithms(deps.config);
  if (satisfied(await listLiveKeys(deps.db), algs)) return;
  const take = await freshPairs(algs);
  await deps.db.transaction().execute(async (trx) => {
    await lockKeySetForChange(trx);
    const everyKey = await listKeys(trx);
    const live = everyKey.filter((k) => k.state !== 'revoked');
    if (satisfied(live, algs)) return; // another instance did it first
    const now = deps.clock.now();
    if (everyKey.length === 0 && legacySecretExists) {
      await setLegacyHs256Until(trx, addSeconds(now, longestTokenLifetimeSeconds(deps.config) + EXPIRY_MARGIN_SECONDS));
    }
    await retireUnwanted(trx, { live, algs, now });
    for (const alg of algs) {
      if (!live.some((k) => k.state === 'current' && k.alg === alg)) await promoteNext(deps, trx, { live, alg, take, now });
      else if (!live.some((k) => k.state === 'next' && k.alg === alg)) await storeKey(deps, trx, { pair: take(alg), state: 'next', now });
    }
  });
}

interface Promotion {
  live: SigningKeyRow[];
  alg: AsymmetricAlgorithm;
  take: (alg: AsymmetricAlgorithm) => NewKeyPair;
  now: Date;
}

/**
 * The rotation of one algorithm's keys, inside a locked transaction: its current key (if any)
 * becomes previous, its next key becomes current (a fresh one if there is no next), and a new
 * next is made. Returns the new current kid.
 */
async function promoteNext(deps: KeysDeps, trx: Executor, { live, alg, take, now }: Promotion): Promise<string> {
  await retireCurrentKey(trx, alg, now);
  const next = live.find((k) => k.state === 'next' && k.alg === alg);
  let currentKid: string;
  if (next) {
    await activateKey(trx, next.kid, now);
    currentKid = next.kid;
  } else {
    const pair = take(alg);
    await storeKey(deps, trx, { pair, state: 'current', now });
    currentKid = pair.kid;
  }
  await storeKey(deps, trx, { pair: take(alg), state: 'next', now });
  return currentKid;
}

export interface RotationResult {
  current: string;
  previous: string | null;
  next: string;
  /** The other algorithms' keys, rotated with JWT_ALGORITHM's (the provider's RS256 key). */
  also?: Array<{ alg: AsymmetricAlgorithm; current: string; previous: string | null; next: string }>;
}

/** `keyhold keys rotate`, and the automatic rotation: every algorithm's keys rotate together. */
export async function rotateSigningKeys(deps: KeysDeps, meta: RequestMeta | null, options: { automatic?: boolean; actorId?: string } = {}): Promise<RotationResult> {
  const algs = signingAlgorithms(deps.config);
  const take = await freshPairs(algs);
  return deps.db.transaction().execute(async (trx) => {
    await lockKeySetForChange(trx);
    const live = await listLiveKeys(trx);
    const now = deps.clock.now();
    await retireUnwanted(trx, { live, algs, now });
    const rotated = [];
    for (const alg of algs) {
      const previous = live.find((k) => k.state === 'current' && k.alg === alg)?.kid ?? null;
      const current = await promoteNext(deps, trx, { live, alg, take, now });
      rotated.push({ alg, current, previous });
    }
    const after = await listLiveKeys(trx);
    const [main, ...others] = rotated.map((r) => ({ ...r, next: after.find((k) => k.state === 'next' && k.alg === r.alg)!.kid }));
    const result: RotationResult = { current: main!.current, previous: main!.previous, next: main!.next };
    if (others.length > 0) result.also = others;
    await recordAudit(trx, meta, {
      action: 'keys.rotated',
      userId: options.actorId ?? null,
      resourceType: 'signing_key',
      resourceId: result.current,
      details: { previous: result.previous, next: result.next, automatic: options.automatic === true, ...(result.also ? { also: result.also } : {}) },
    });
    return result;
  });
}

export interface RevokeSigningKey {
  kid: string;
  meta: RequestMeta | null;
  /** The admin who revokes it (none from the command line). */
  actorId?: string;
}

/**
 * `keyhold keys revoke KID`: the key leaves the JWKS and its tokens are refused at once (on
 * other instances at their next poll). Revoking a current key promotes its algorithm's next one,
 * and revoking a next one makes a new next, so there is always a key to sign with.
 */
export async function revokeSigningKey(deps: KeysDeps, { kid, meta, actorId }: RevokeSigningKey): Promise<{ kid: string; was: string }> {
  const algs = signingAlgorithms(deps.config);
  const known = (await listLiveKeys(deps.db)).find((k) => k.kid === kid);
  const alg = known && algs.includes(known.alg) ? known.alg : undefined;
  const take = await freshPairs(alg ? [alg] : []);
  return deps.db.transaction().execute(async (trx) => {
    await lockKeySetForChange(trx);
    const now = deps.clock.now();
    const was = await revokeKeyRow(trx, kid, now);
    if (was === undefined) throw Errors.signingKeyNotFound();
    if (alg && was === 'current') {
      await promoteNext(deps, trx, { live: await listLiveKeys(trx), alg, take, now });
    } else if (alg && was === 'next') {
      await storeKey(deps, trx, { pair: take(alg), state: 'next', now });
    }
    await recordAudit(trx, meta, { action: 'keys.revoked', userId: actorId ?? null, resourceType: 'signing_key', resourceId: kid, details: { state: was } });
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
  // JWT_ALGORITHM's key sets the pace; the other algorithms' keys rotate with it.
  const current = live.find((k) => k.state === 'current' && k.alg === deps.config.jwtAlgorithm);
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
