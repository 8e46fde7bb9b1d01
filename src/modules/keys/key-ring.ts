// The in-process key set the token module signs and verifies with (lib/tokens.ts's KeyRing),
// loaded from signing_keys and kept in step with other instances by polling the key set's
// version (one primary-key read every KEY_SET_POLL_MS). A rotation is seen without a restart;
// a revocation is refused everywhere within one poll, remembered access tokens included (the
// generation moves, and the token module forgets what it verified).
//
// A rotation never leaves an instance unable to verify a token another instance signed: the
// key that becomes current was published as `next` (and loaded here) one rotation earlier.
import { createSecretKey } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { JWK } from 'jose';
import type { Db } from '../../db/database.js';
import type { SecretBox } from '../../lib/secret-box.js';
import type { KeyRing, TokenKey } from '../../lib/token-keys.js';
import { privateKeyFromPem, publicKeyFromJwk, type AsymmetricAlgorithm } from './key-material.js';
import { listLiveKeys, readKeySetVersion, readLegacyHs256Until, type SigningKeyRow } from './keys.repo.js';

/** How often each instance looks for a rotation or revocation made elsewhere. */
export const KEY_SET_POLL_MS = 2000;

/** What the OpenID Provider signs with: the live keys with a private half, as private JWKs. */
export interface ProviderKeys {
  /** Private JWKs, current keys first (the provider signs with the first key of an algorithm). */
  keys: JWK[];
  /** JWT_ALGORITHM: the default for ID tokens and access tokens. */
  alg: string;
}

export interface SigningKeyRing extends KeyRing {
  /** The provider's keys for the key set in force (made on first ask, once per load). */
  providerKeys(): ProviderKeys;
  /** Reloads the keys if the version moved (or `force`). */
  refresh(force?: boolean): Promise<void>;
  start(): void;
  stop(): void;
}

export interface KeyRingDeps {
  db: Db;
  secrets: SecretBox;
  log: FastifyBaseLogger;
  /** JWT_ALGORITHM: first-party tokens are signed with its current key. */
  alg: AsymmetricAlgorithm;
  /** Signs refresh tokens (refresh-token-key.ts); verifies those naming its kid. */
  refreshKey: TokenKey;
  /** 0.1's HS256 secret, accepted (without a kid) until legacy_hs256_until, if set. */
  legacySecret?: string;
  pollMs?: number;
}

interface Loaded {
  version: string;
  rows: SigningKeyRow[];
  providerKeys?: ProviderKeys;
  signing: TokenKey;
  verifiers: Map<string, TokenKey>;
  legacy?: { key: TokenKey; untilMs: number };
}

export async function loadSigningKeyRing(deps: KeyRingDeps): Promise<SigningKeyRing> {
  let loaded = await load(deps);
  let generation = 0;
  let timer: NodeJS.Timeout | undefined;
  let polling: Promise<void> | undefined;
  let failing = false;

  async function refresh(force = false): Promise<void> {
    const version = await readKeySetVersion(deps.db);
    if (!force && version === loaded.version) return;
    loaded = await load(deps);
    generation++;
  }

  return {
    signing: () => loaded.signing,
    refreshSigning: () => deps.refreshKey,
    verifier(kid, now) {
      if (kid !== undefined) return kid === deps.refreshKey.kid ? deps.refreshKey : loaded.verifiers.get(kid);
      const legacy = loaded.legacy;
      return legacy && now.getTime() < legacy.untilMs ? legacy.key : undefined;
    },
    get generation() {
      return generation;
    },
    providerKeys() {
      const current = loaded;
      return (current.providerKeys ??= providerKeysOf(deps, current.rows));
    },
    refresh,
    start() {
      if (timer) return;
      timer = setInterval(() => {
        if (polling) return;
        polling = refresh()
          .then(() => {
            if (failing) deps.log.info('signing keys: key set reachable again');
            failing = false;
          })
          .catch((err: unknown) => {
            // The keys in hand keep working; a revocation elsewhere waits for the database.
            if (!failing) deps.log.warn({ err: { message: (err as Error).message } }, 'signing keys: cannot read the key set');
            failing = true;
          })
          .finally(() => (polling = undefined));
      }, deps.pollMs ?? KEY_SET_POLL_MS);
      timer.unref();
    },
    stop() {
      clearInterval(timer);
      timer = undefined;
    },
  };
}

async function load(deps: KeyRingDeps): Promise<Loaded> {
  // The version first: a change landing between the two reads is loaded again at the next poll.
  const version = await readKeySetVersion(deps.db);
  const rows = await listLiveKeys(deps.db);
  const legacyUntil = deps.legacySecret ? await readLegacyHs256Until(deps.db) : null;
  const verifiers = new Map<string, TokenKey>();
  let signing: TokenKey | undefined;
  for (const row of rows) {
    verifiers.set(row.kid, { kid: row.kid, alg: row.alg, key: publicKeyFromJwk(row.public_jwk) });
    if (row.state === 'current' && row.alg === deps.alg) {
      if (row.private_key === null) throw new Error(`signing key ${row.kid} has no private key`);
      const pem = deps.secrets.open(row.private_key, `signing-key:${row.kid}`);
      signing = { kid: row.kid, alg: row.alg, key: privateKeyFromPem(pem) };
    }
  }
  if (!signing) throw new Error(`no current ${deps.alg} signing key (run keyhold keys rotate)`);
  const legacy =
    deps.legacySecret && legacyUntil
      ? { key: { alg: 'HS256' as const, key: createSecretKey(Buffer.from(deps.legacySecret, 'utf8')) }, untilMs: legacyUntil.getTime() }
      : undefined;
  return { version, rows, signing, verifiers, legacy };
}

function providerKeysOf(deps: KeyRingDeps, rows: SigningKeyRow[]): ProviderKeys {
  const usable = rows.filter((row) => row.private_key !== null && row.state !== 'next');
  // Current keys first, JWT_ALGORITHM's before the others (a stable sort keeps the rest's order).
  const rank = (row: SigningKeyRow) => (row.state === 'current' ? (row.alg === deps.alg ? 0 : 1) : 2);
  usable.sort((a, b) => rank(a) - rank(b));
  const keys = usable.map((row) => {
    const pem = deps.secrets.open(row.private_key!, `signing-key:${row.kid}`);
    const jwk = privateKeyFromPem(pem).export({ format: 'jwk' }) as JWK;
    return { ...jwk, kid: row.kid, alg: row.alg, use: 'sig' };
  });
  return { keys, alg: deps.alg };
}
