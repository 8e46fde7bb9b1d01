// Single-use rows, one mechanism (issue 25), as node-oidc-provider's `consumable` mixin: reset
// and verification tokens, OAuth states, MFA challenges and recovery codes, passkey
// challenges, SSO requests and codes, invites (the OpenID Provider's codes and the SAML ACS's
// requests keep the same statement, prepared, in modules/oidc-provider/oidc-models.repo.ts and
// modules/sso/sso-sign-in.repo.ts). Each feature
// declares its table once in its repo:
//
//   const resetTokens = singleUse('password_reset_tokens', { key: 'id' });
//
// and spends, checks and purges through it. Spending is one conditional statement,
//
//   UPDATE <table> SET used_at = $now WHERE <match> AND used_at IS NULL AND expires_at > $now RETURNING …
//
// which is the lock: of two requests presenting the same token at once, the second waits for
// the first's row lock, re-reads used_at, matches nothing and gets undefined. No caller reads
// first and writes after. Purging keeps a spent row a while (retention), then deletes it in
// bounded batches; migrations/ gives each purged table the index the purge uses:
//
//   CREATE INDEX <table>_spent_at_idx ON <table> ((LEAST(used_at, expires_at)));
import { sql, type RawBuilder, type Selectable } from 'kysely';
import type { Executor } from './executor.js';
import type { Database } from './schema.js';

/** Tables with the single-use shape: a spent mark (`used_at`, or `consumed_at` for oidc_models). */
export type SingleUseTable = {
  [T in keyof Database]: Database[T] extends { used_at: unknown } | { consumed_at: unknown } ? T : never;
}[keyof Database];

type Row<T extends SingleUseTable> = Selectable<Database[T]>;
type Column<T extends SingleUseTable> = keyof Row<T> & string;
/** Equalities that pick the row(s): `{ token_hash, purpose: 'login' }`. */
export type Match<T extends SingleUseTable> = { [C in Column<T>]?: Row<T>[C] };

export interface SingleUseOptions<T extends SingleUseTable> {
  /** The primary key (the purge deletes by it). */
  key: Column<T>;
  /** The spent mark; default used_at. */
  usedColumn?: 'used_at' | 'consumed_at';
  /** The table has no expires_at (recovery codes live until replaced). */
  neverExpires?: boolean;
}

/** What `spend` spends: the live row matching `match` at `now`. */
export interface Spend<T extends SingleUseTable, C extends Column<T>> {
  match: Match<T>;
  now: Date;
  returning?: readonly C[] | '*';
  set?: Match<T>;
}

/** What `findLive` reads: the live row matching `match` at `now`. */
export interface FindLive<T extends SingleUseTable, C extends Column<T>> {
  match: Match<T>;
  now: Date;
  columns: readonly C[] | '*';
  lock?: boolean;
}

export interface SingleUse<T extends SingleUseTable> {
  readonly table: T;
  /**
   * Spends the live row matching `match`, once: its `returning` columns, or undefined when
   * there is none (unknown, already spent, expired); every column without `returning`. `set` writes more columns with the mark
   * (who used an invite, a challenge's last failed attempt).
   */
  spend<C extends Column<T> = Column<T>>(db: Executor, spend: Spend<T, C>): Promise<Pick<Row<T>, C> | undefined>;
  /** Spends every live row matching `match` (a password change retires its reset links); how many. */
  spendAll(db: Executor, match: Match<T>, now: Date): Promise<number>;
  /** The live (unspent, unexpired) row matching `match`, without spending it; `lock` holds it until the transaction ends. */
  findLive<C extends Column<T> = Column<T>>(db: Executor, find: FindLive<T, C>): Promise<Pick<Row<T>, C> | undefined>;
  /** How many live rows match. */
  countLive(db: Executor, match: Match<T>, now: Date): Promise<number>;
  /** Deletes up to `limit` rows spent (used, or expired, whichever came first) before `before`; how many. */
  purge(db: Executor, before: Date, limit: number): Promise<number>;
  /** How many rows `purge` would remove, all batches together (a dry run). */
  count(db: Executor, before: Date): Promise<number>;
}

export function singleUse<T extends SingleUseTable>(table: T, options: SingleUseOptions<T>): SingleUse<T> {
  const name = sql.table(table);
  const id = sql.ref(options.key);
  const used = sql.ref(options.usedColumn ?? 'used_at');
  // A null expires_at (an invite code without end, a provider row without expiry) never expires.
  const live = (now: Date): RawBuilder<unknown> =>
    options.neverExpires ? sql`${used} IS NULL` : sql`${used} IS NULL AND (expires_at IS NULL OR expires_at > ${now})`;
  const where = (match: Match<T>, now: Date): RawBuilder<unknown> => {
    const terms = Object.entries(match).map(([column, value]) => sql`${sql.ref(column)} = ${value}`);
    return sql.join([...terms, live(now)], sql` AND `);
  };
  const columns = (list: readonly string[] | '*'): RawBuilder<unknown> =>
    list === '*' ? sql`*` : sql.join(list.map((column) => sql.ref(column)));
  // LEAST skips NULLs, so an unused row counts from its expiry; written exactly as in the
  // index (migrations/0003_retention.sql and later), so the index is used.
  const spentAt = options.neverExpires ? used : sql`LEAST(${used}, expires_at)`;

  return {
    table,
    async spend<C extends Column<T>>(db: Executor, { match, now, returning, set }: Spend<T, C>) {
      const extra = Object.entries(set ?? {}).map(([column, value]) => sql`, ${sql.ref(column)} = ${value}`);
      const result = await sql<Pick<Row<T>, C>>`
        UPDATE ${name} SET ${used} = ${now}${sql.join(extra, sql``)}
         WHERE ${where(match, now)}
        RETURNING ${columns(returning ?? '*')}
      `.execute(db);
      return result.rows[0];
    },
    async spendAll(db, match, now) {
      const result = await sql`UPDATE ${name} SET ${used} = ${now} WHERE ${where(match, now)}`.execute(db);
      return Number(result.numAffectedRows ?? 0n);
    },
    async findLive<C extends Column<T>>(db: Executor, { match, now, columns: selected, lock }: FindLive<T, C>) {
      const forUpdate = lock ? sql` FOR UPDATE` : sql``;
      const result = await sql<Pick<Row<T>, C>>`SELECT ${columns(selected)} FROM ${name} WHERE ${where(match, now)}${forUpdate}`.execute(db);
      return result.rows[0];
    },
    async countLive(db, match, now) {
      const result = await sql<{ n: number }>`SELECT count(*)::int AS n FROM ${name} WHERE ${where(match, now)}`.execute(db);
      return result.rows[0]?.n ?? 0;
    },
    // Rows locked by a transaction (a token being spent right now) are skipped, never waited for.
    async purge(db, before, limit) {
      const result = await sql`
        DELETE FROM ${name}
         WHERE ${id} IN (SELECT ${id} FROM ${name} WHERE ${spentAt} < ${before} LIMIT ${limit} FOR UPDATE SKIP LOCKED)
      `.execute(db);
      return Number(result.numAffectedRows ?? 0n);
    },
    async count(db, before) {
      const result = await sql<{ n: number }>`SELECT count(*)::int AS n FROM ${name} WHERE ${spentAt} < ${before}`.execute(db);
      return result.rows[0]?.n ?? 0;
    },
  };
}
