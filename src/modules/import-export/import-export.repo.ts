// The SQL of `keyhold import` and `keyhold export`: the account keys, the run's bookkeeping and
// the reads of an export. Rows of other features (users, accounts, identities, audit) are
// written through their own repos.
//
// A run keeps what it has seen in two temporary tables of its one connection rather than in
// memory, so memory stays flat whatever the file's size: every address a line brought (and the
// line's number), to tell a duplicate within the file from an address that existed before,
// and the accounts the run created, to give each an owner at the end.
import { sql } from 'kysely';
import type { Executor } from '../../db/database.js';

export async function createRunTables(db: Executor): Promise<void> {
  await sql`CREATE TEMP TABLE IF NOT EXISTS import_run_emails (email text PRIMARY KEY, line integer NOT NULL)`.execute(db);
  await sql`CREATE TEMP TABLE IF NOT EXISTS import_run_accounts (account_id uuid PRIMARY KEY)`.execute(db);
  await sql`TRUNCATE import_run_emails, import_run_accounts`.execute(db);
}

export async function dropRunTables(db: Executor): Promise<void> {
  await sql`DROP TABLE IF EXISTS import_run_emails, import_run_accounts`.execute(db);
}

/** Which of these addresses an earlier line of this run brought, with that line's number. */
export async function findRunEmails(db: Executor, emails: string[]): Promise<Map<string, number>> {
  if (emails.length === 0) return new Map();
  const { rows } = await sql<{ email: string; line: number }>`
    SELECT email, line FROM import_run_emails WHERE email = ANY(${emails}::text[])`.execute(db);
  return new Map(rows.map((row) => [row.email, row.line]));
}

export async function rememberRunEmails(db: Executor, entries: Array<{ email: string; line: number }>): Promise<void> {
  if (entries.length === 0) return;
  await sql`
    INSERT INTO import_run_emails (email, line)
    SELECT * FROM unnest(${entries.map((e) => e.email)}::text[], ${entries.map((e) => e.line)}::integer[])`.execute(db);
}

export async function rememberRunAccounts(db: Executor, accountIds: string[]): Promise<void> {
  if (accountIds.length === 0) return;
  await sql`INSERT INTO import_run_accounts (account_id) SELECT unnest(${accountIds}::uuid[])`.execute(db);
}

/** Which of these (normalised) addresses already belong to a user. */
export async function findTakenEmails(db: Executor, emails: string[]): Promise<Set<string>> {
  if (emails.length === 0) return new Set();
  const { rows } = await sql<{ email: string }>`SELECT lower(email) AS email FROM users WHERE lower(email) = ANY(${emails}::text[])`.execute(db);
  return new Set(rows.map((row) => row.email));
}

/** Which of these provider identities already belong to a user, as `provider\0subject`. */
export async function findTakenIdentities(db: Executor, identities: Array<{ provider: string; subject: string }>): Promise<Set<string>> {
  if (identities.length === 0) return new Set();
  const { rows } = await sql<{ provider: string; subject: string }>`
    SELECT o.provider, o.subject FROM oauth_identities o
      JOIN unnest(${identities.map((i) => i.provider)}::text[], ${identities.map((i) => i.subject)}::text[]) AS t(provider, subject)
        ON o.provider = t.provider AND o.subject = t.subject`.execute(db);
  return new Set(rows.map((row) => `${row.provider}\u0000${row.subject}`));
}

export interface KeyedAccount {
  key: string;
  accountId: string;
  ownerId: string | null;
}

/**
 * The accounts these keys name: a key an import created, else (a key that is an account's
 * id, as `keyhold export` writes for accounts that never had a key) that account. Locked, so
 * two imports into one account cannot both give it an owner.
 */
export async function findKeyedAccounts(db: Executor, keys: string[]): Promise<Map<string, KeyedAccount>> {
  if (keys.length === 0) return new Map();
  const { rows } = await sql<{ key: string; account_id: string; owner_id: string | null }>`
    SELECT t.key, a.id AS account_id, a.owner_id
      FROM unnest(${keys}::text[]) AS t(key)
      LEFT JOIN account_import_keys k ON k.key = t.key
      JOIN accounts a ON a.id = COALESCE(k.account_id,
        CASE WHEN t.key ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN t.key::uuid END)
     ORDER BY a.id
       FOR UPDATE OF a`.execute(db);
  return new Map(rows.map((row) => [row.key, { key: row.key, accountId: row.account_id, ownerId: row.owner_id }]));
}

export async function insertAccountKeys(db: Executor, keys: Array<{ key: string; accountId: string }>): Promise<void> {
  if (keys.length === 0) return;
  await db.insertInto('account_import_keys').values(keys.map((k) => ({ key: k.key, account_id: k.accountId }))).execute();
}

/**
 * The accounts this run created that still have no owner (the file named none): the member
 * whose line came first becomes the owner. Returns how many, and the first `limit` of them
 * (key, line, email) for the report.
 */
export async function promoteFirstMembers(db: Executor, now: Date, limit: number): Promise<{ count: number; first: Array<{ key: string; line: number; email: string }> }> {
  const { rows } = await sql<{ key: string; line: number; email: string }>`
    WITH chosen AS (
      SELECT DISTINCT ON (u.account_id) u.account_id, u.id AS user_id, u.email, e.line
        FROM import_run_accounts r
        JOIN accounts a ON a.id = r.account_id AND a.owner_id IS NULL
        JOIN users u ON u.account_id = a.id
        JOIN import_run_emails e ON e.email = u.email
       ORDER BY u.account_id, e.line
    ), owners AS (
      UPDATE accounts SET owner_id = chosen.user_id FROM chosen WHERE accounts.id = chosen.account_id
    ), roles AS (
      UPDATE users SET account_role = 'owner', updated_at = ${now} FROM chosen WHERE users.id = chosen.user_id
    )
    SELECT k.key, chosen.line, chosen.email
      FROM chosen JOIN account_import_keys k ON k.account_id = chosen.account_id
     ORDER BY chosen.line`.execute(db);
  return { count: rows.length, first: rows.slice(0, limit) };
}

// ---- export ------------------------------------------------------------------------------

export interface ExportUserRow {
  id: string;
  email: string;
  name: string;
  password_hash: string | null;
  email_verified_at: Date | null;
  role: 'engineer' | 'admin';
  account_role: 'owner' | 'admin' | 'member';
  is_active: boolean;
  must_change_password: boolean;
  created_at: Date;
  account_key: string;
  account_name: string;
  plan: string | null;
  status: string | null;
  period_end: Date | null;
}

/** One page of users in id order, after `afterId`, each with its account and subscription. */
export async function exportUsersPage(db: Executor, afterId: string | null, limit: number): Promise<ExportUserRow[]> {
  let query = db
    .selectFrom('users')
    .innerJoin('accounts', 'accounts.id', 'users.account_id')
    .leftJoin('account_import_keys', 'account_import_keys.account_id', 'accounts.id')
    .leftJoin('subscriptions', 'subscriptions.account_id', 'accounts.id')
    .select([
      'users.id',
      'users.email',
      'users.name',
      'users.password_hash',
      'users.email_verified_at',
      'users.role',
      'users.account_role',
      'users.is_active',
      'users.must_change_password',
      'users.created_at',
      sql<string>`COALESCE(account_import_keys.key, accounts.id::text)`.as('account_key'),
      'accounts.name as account_name',
      'subscriptions.plan',
      'subscriptions.status',
      'subscriptions.current_period_end as period_end',
    ])
    .orderBy('users.id')
    .limit(limit);
  if (afterId) query = query.where('users.id', '>', afterId);
  return query.execute();
}

export async function exportIdentities(db: Executor, userIds: string[]): Promise<Array<{ user_id: string; provider: string; subject: string; email: string | null }>> {
  if (userIds.length === 0) return [];
  return db
    .selectFrom('oauth_identities')
    .select(['user_id', 'provider', 'subject', 'email'])
    .where('user_id', 'in', userIds)
    .orderBy('user_id')
    .orderBy('provider')
    .orderBy('subject')
    .execute();
}
