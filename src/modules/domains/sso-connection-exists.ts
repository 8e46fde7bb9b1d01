// For SCIM (modules/scim): whether an account has an enabled SSO connection, so a provisioned
// user without a password is sent to it rather than emailed a link to set one. Reads sso28's
// sso_connections (migration 0016); sso28 may fold this into its own connections repo.
import type { Executor } from '../../db/database.js';
import { preparedStatement } from '../../db/prepared.js';

export async function hasEnabledSsoConnection(db: Executor, accountId: string): Promise<boolean> {
  const row = await db.selectFrom('sso_connections').select('id').where('account_id', '=', accountId).where('enabled', '=', true).limit(1).executeTakeFirst();
  return row !== undefined;
}

// Every SCIM creation asks it first: prepared (db/prepared.ts).
const identityFacts = preparedStatement<{ domains: string[]; sso: boolean }>('identity_facts_of_account', `
  SELECT ARRAY(SELECT domain FROM account_domains WHERE account_id = $1 AND verified_at IS NOT NULL ORDER BY created_at) AS domains,
         EXISTS (SELECT 1 FROM sso_connections WHERE account_id = $1 AND enabled) AS sso`);

/** The account's verified domains (lower-case, oldest first; as verifiedDomainsOf) and whether
 *  it has an enabled SSO connection, in one statement: what a SCIM creation asks first. */
export async function identityFactsOf(db: Executor, accountId: string): Promise<{ verifiedDomains: string[]; hasSsoConnection: boolean }> {
  const [row] = await identityFacts(db, [accountId]);
  return { verifiedDomains: row?.domains ?? [], hasSsoConnection: Boolean(row?.sso) };
}
