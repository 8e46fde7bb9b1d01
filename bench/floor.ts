// What the hardware allows, measured in this process with the service's own building blocks:
// argon2id verifies at the configured cost (through the libuv threadpool, as the server runs
// them), and a JWT verify plus one primary-key SELECT (the least GET /auth/me can do).
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { pathToFileURL } from 'node:url';
import type { Config } from '../src/config.js';
import { systemClock } from '../src/lib/clock.js';
import type * as PasswordsModule from '../src/lib/passwords.js';
import type * as TokensModule from '../src/lib/tokens.js';
import type { TokenService } from '../src/lib/tokens.js';
import { cpuBetween, snapshot } from './proc-cpu.js';

export interface ServerLib {
  passwords: typeof PasswordsModule;
  tokens: typeof TokensModule;
}

/** The hasher and token service of the server under test (compiled .js, or the .ts source). */
export async function loadServerLib(libDir: string): Promise<ServerLib> {
  const load = (name: string) => {
    const file = [`${name}.js`, `${name}.ts`].map((f) => join(libDir, f)).find((f) => existsSync(f));
    if (!file) throw new Error(`no ${name} module in ${libDir}`);
    return import(pathToFileURL(file).href);
  };
  return { passwords: await load('passwords'), tokens: await load('tokens') };
}

/** Keeps `concurrency` calls of `op` in flight for `seconds`; returns how many completed. */
async function saturate(seconds: number, concurrency: number, op: () => Promise<unknown>): Promise<number> {
  const end = performance.now() + seconds * 1000;
  let done = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        await op();
        done++;
      }
    }),
  );
  return done;
}

async function timed(seconds: number, concurrency: number, op: () => Promise<unknown>) {
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const ops = await saturate(seconds, concurrency, op);
  const wall = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  return { ops, perSecond: ops / wall, cpuSecondsPerOp: (cpu.user + cpu.system) / 1e6 / ops, wall };
}

export interface Argon2Floor {
  params: Config['argon2'];
  threadpoolSize: number;
  concurrency: number;
  verifiesPerSecond: number;
  /** CPU per verify: the rate one core sustains is its inverse. */
  cpuMsPerVerify: number;
}

export async function measureArgon2Floor(lib: ServerLib, params: Config['argon2'], seconds: number): Promise<Argon2Floor> {
  const hasher = lib.passwords.createPasswordHasher(params);
  const password = 'floor-password-1';
  const hash = await hasher.hash(password);
  await hasher.verify(hash, password);
  const threadpoolSize = Number(process.env.UV_THREADPOOL_SIZE) || 4;
  // As many in flight as the threadpool runs at once, plus a queue, like a busy login endpoint.
  const concurrency = threadpoolSize * 2;
  const result = await timed(seconds, concurrency, () => hasher.verify(hash, password));
  return {
    params,
    threadpoolSize,
    concurrency,
    verifiesPerSecond: result.perSecond,
    cpuMsPerVerify: result.cpuSecondsPerOp * 1000,
  };
}

export interface LookupFloor {
  database: 'postgres' | 'embedded';
  concurrency: number;
  jwtVerifyMicros: number;
  lookupsPerSecond: number;
  /** Client-side CPU (JWT verify + driver) per lookup: what a perfect /auth/me would cost the server. */
  clientCpuMicrosPerLookup: number;
  /** PostgreSQL's CPU per lookup (null for the embedded database: it is in the client's figure). */
  postgresCpuMicrosPerLookup: number | null;
}

export function benchTokenService(lib: ServerLib, config: Readonly<Config>): TokenService {
  const secret = config.jwtSecret!;
  // 0.2 takes a key ring (HS256 here, as the floor measures 0.1's mode); 0.1 took the secret.
  const keys = 'hs256KeyRing' in lib.tokens ? { keys: lib.tokens.hs256KeyRing(secret), refreshRotationSecret: secret } : { secret };
  return lib.tokens.createTokenService({
    ...(keys as Parameters<typeof lib.tokens.createTokenService>[0]),
    issuer: config.jwtIssuer,
    audience: config.jwtAudience,
    clock: systemClock,
    lifetimesSeconds: {
      access: config.accessTokenExpireMinutes * 60,
      refresh: config.refreshTokenExpireDays * 86_400,
      password_reset: 3600,
      email_verification: 86_400,
    },
  });
}

async function jwtVerifyMicros(tokens: TokenService, accessTokens: string[]): Promise<number> {
  for (let i = 0; i < 500; i++) await tokens.verify(accessTokens[i % accessTokens.length], 'access');
  const n = 5000;
  const cpuBefore = process.cpuUsage();
  for (let i = 0; i < n; i++) await tokens.verify(accessTokens[(500 + i) % accessTokens.length], 'access');
  const cpu = process.cpuUsage(cpuBefore);
  return (cpu.user + cpu.system) / n;
}

/**
 * Distinct access tokens for the user of `accessToken`, more than the token module remembers
 * as verified, used in turn: so every lookup of the floor pays a full JWT verify, as the floor
 * is defined (the server, whose clients reuse their token, mostly does not).
 */
async function distinctAccessTokens(tokens: TokenService, accessToken: string): Promise<string[]> {
  // The server's token is read, not verified: in the asymmetric modes (JWT_ALGORITHM=ES256 …) the
  // server signs with its own key, while the floor stays HS256's (the cheapest verify there is).
  const claims = JSON.parse(Buffer.from(accessToken.split('.')[1] ?? '', 'base64url').toString('utf8')) as { sub?: string; sid?: string };
  const subject = claims.sub;
  if (typeof subject !== 'string') throw new Error('floor: the access token has no subject');
  const issued = await Promise.all(
    Array.from({ length: FLOOR_DISTINCT_TOKENS }, () => tokens.issue('access', subject, { sid: claims.sid })),
  );
  return issued.map((t) => t.token);
}

/** Above the token module's VERIFIED_ACCESS_TOKENS_KEPT, so cycling through them never hits. */
const FLOOR_DISTINCT_TOKENS = 25_000;

const PK_SELECT = 'SELECT * FROM users WHERE id = $1';
const MIGRATIONS_DIR = new URL('../migrations/', import.meta.url).pathname;

export interface LookupFloorMeter {
  measure(seconds: number): Promise<LookupFloor>;
  close(): Promise<void>;
}

const LOOKUP_CONCURRENCY = 32;

function lookupMeter(
  database: LookupFloor['database'],
  tokens: TokenService,
  accessToken: string,
  select: (userId: string) => Promise<number>,
  close: () => Promise<void>,
  postgresPids?: () => Promise<number[]>,
): LookupFloorMeter {
  let accessTokens: string[] = [];
  let next = 0;
  const lookup = async (): Promise<void> => {
    const claims = await tokens.verify(accessTokens[next++ % accessTokens.length], 'access');
    if (!claims) throw new Error('floor: the access token does not verify');
    if ((await select(claims.sub)) !== 1) throw new Error('floor: the user is missing');
  };
  return {
    async measure(seconds) {
      if (accessTokens.length === 0) accessTokens = await distinctAccessTokens(tokens, accessToken);
      await saturate(Math.min(1, seconds / 2), LOOKUP_CONCURRENCY, lookup); // fills the pool, warms up
      const pgBefore = postgresPids ? snapshot(await postgresPids()) : undefined;
      const result = await timed(seconds, LOOKUP_CONCURRENCY, lookup);
      let postgresCpuMicrosPerLookup: number | null = null;
      if (postgresPids && pgBefore) {
        const pids = new Set([...pgBefore.keys(), ...(await postgresPids())]);
        postgresCpuMicrosPerLookup = (cpuBetween(pgBefore, snapshot(pids)) / result.ops) * 1e6;
      }
      return {
        database,
        concurrency: LOOKUP_CONCURRENCY,
        jwtVerifyMicros: await jwtVerifyMicros(tokens, accessTokens),
        lookupsPerSecond: result.perSecond,
        clientCpuMicrosPerLookup: result.cpuSecondsPerOp * 1e6,
        postgresCpuMicrosPerLookup,
      };
    },
    close,
  };
}

/** JWT verify + `SELECT * FROM users WHERE id = $1` through `pg`, with the server's pool size,
 *  on the bench database (the seeded user of `accessToken`). */
export function postgresLookupFloor(options: {
  url: string;
  poolSize: number;
  tokens: TokenService;
  accessToken: string;
  postgresPids: () => Promise<number[]>;
}): LookupFloorMeter {
  const pool = new pg.Pool({ connectionString: options.url, max: options.poolSize });
  const select = async (userId: string) => (await pool.query(PK_SELECT, [userId])).rowCount ?? 0;
  return lookupMeter('postgres', options.tokens, options.accessToken, select, () => pool.end(), options.postgresPids);
}

/**
 * The same on the embedded database: an in-memory PGlite in this process with the schema and
 * one user (the server holds its own data directory exclusively).
 */
export async function embeddedLookupFloor(tokens: TokenService): Promise<LookupFloorMeter> {
  const db = await PGlite.create();
  const migrations = readdirSync(MIGRATIONS_DIR).filter((f) => /^\d{4}_[\w-]+\.sql$/.test(f)).sort();
  for (const file of migrations) await db.exec(readFileSync(join(MIGRATIONS_DIR, file), 'utf8'));
  const [accountId, userId] = [randomUUID(), randomUUID()];
  await db.query(`INSERT INTO accounts (id, name, display_code) VALUES ($1, 'Floor', 'FLOOR001')`, [accountId]);
  await db.query(
    `INSERT INTO users (id, email, name, account_id, account_role, password_hash) VALUES ($1, 'floor@example.com', 'Floor', $2, 'owner', 'x')`,
    [userId, accountId],
  );
  const { token } = await tokens.issue('access', userId, { sid: randomUUID() });
  const select = async (id: string) => (await db.query(PK_SELECT, [id])).rows.length;
  return lookupMeter('embedded', tokens, token, select, () => db.close());
}

/** Two measurements of a floor, before and after the run it is compared with, averaged:
 *  the machine's background load drifts, and this puts the floor where the run was. */
export function meanOf<T extends object>(a: T, b: T): T {
  const mean: Record<string, unknown> = { ...(a as Record<string, unknown>) };
  for (const [key, value] of Object.entries(a)) {
    const other = (b as Record<string, unknown>)[key];
    if (typeof value === 'number' && typeof other === 'number') mean[key] = (value + other) / 2;
  }
  return mean as T;
}
