// Verified domains of an account: the only SQL of the domains feature. Other features (SSO,
// SCIM) ask through verifiedDomainsOf / accountOwningVerifiedDomain (or its text, verifiedDomainOwnerSql), never the table itself.
import type { AccountDomainRow } from '../../db/schema.js';
import type { Executor } from '../../db/database.js';

/** The domains the account has proven (lower-case), oldest first. */
export async function verifiedDomainsOf(db: Executor, accountId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('account_domains')
    .select('domain')
    .where('account_id', '=', accountId)
    .where('verified_at', 'is not', null)
    .orderBy('created_at')
    .execute();
  return rows.map((row) => row.domain);
}

/**
 * The same question as SQL text, for a statement that asks it among others (the SSO sign-in's
 * facts, modules/sso/sso-sign-in.repo.ts): a scalar subquery on the parameter `placeholder`.
 */
export const verifiedDomainOwnerSql = (placeholder: string): string =>
  `SELECT account_id FROM account_domains WHERE domain = ${placeholder} AND verified_at IS NOT NULL`;

/** The account that verified `domain` (lower-case, as stored), if any: at most one can. */
export async function accountOwningVerifiedDomain(db: Executor, domain: string): Promise<string | undefined> {
  const row = await db
    .selectFrom('account_domains')
    .select('account_id')
    .where('domain', '=', domain)
    .where('verified_at', 'is not', null)
    .executeTakeFirst();
  return row?.account_id;
}

/** Whether the email's domain is one of the account's verified domains. */
export async function isEmailOnVerifiedDomain(db: Executor, accountId: string, email: string): Promise<boolean> {
  const domain = emailDomain(email);
  return domain !== null && (await accountOwningVerifiedDomain(db, domain)) === accountId;
}

/** The part after the last `@`, lower-cased; null for something that is no address. */
export function emailDomain(email: string): string | null {
  const at = email.lastIndexOf('@');
  if (at < 1 || at === email.length - 1) return null;
  return email.slice(at + 1).toLowerCase().replace(/\.$/, '');
}

export async function insertDomain(
  db: Executor,
  row: { id: string; accountId: string; domain: string; verificationToken: string; now: Date },
): Promise<AccountDomainRow | undefined> {
  return db
    .insertInto('account_domains')
    .values({ id: row.id, account_id: row.accountId, domain: row.domain, verification_token: row.verificationToken, created_at: row.now })
    .onConflict((oc) => oc.columns(['account_id', 'domain']).doNothing())
    .returningAll()
    .executeTakeFirst();
}

export async function listDomains(db: Executor, accountId: string): Promise<AccountDomainRow[]> {
  return db.selectFrom('account_domains').selectAll().where('account_id', '=', accountId).orderBy('created_at').execute();
}

/** One domain of the account (tenant-scoped: another account's id is not found). */
export async function findDomain(db: Executor, accountId: string, id: string): Promise<AccountDomainRow | undefined> {
  return db.selectFrom('account_domains').selectAll().where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst();
}

/** Marks the claim verified; the partial unique index refuses a second account (unique violation). */
export interface MarkDomainVerified {
  accountId: string;
  id: string;
  now: Date;
}

export async function markDomainVerified(db: Executor, { accountId, id, now }: MarkDomainVerified): Promise<AccountDomainRow | undefined> {
  return db
    .updateTable('account_domains')
    .set({ verified_at: now })
    .where('account_id', '=', accountId)
    .where('id', '=', id)
    .where('verified_at', 'is', null)
    .returningAll()
    .executeTakeFirst();
}

export async function deleteDomain(db: Executor, accountId: string, id: string): Promise<AccountDomainRow | undefined> {
  return db.deleteFrom('account_domains').where('account_id', '=', accountId).where('id', '=', id).returningAll().executeTakeFirst();
}
