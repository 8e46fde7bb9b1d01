// For SCIM (modules/scim): whether an account has an enabled SSO connection, so a provisioned
// user without a password is sent to it rather than emailed a link to set one. Reads sso28's
// sso_connections (migration 0016); sso28 may fold this into its own connections repo.
import { sql } from 'kysely';
import type { Executor } from '../../db/database.js';

export async function hasEnabledSsoConnection(db: Executor, accountId: string): Promise<boolean> {
  const row = await db.selectFrom('sso_connections').select('id').where('account_id', '=', accountId).where('enabled', '=', true).limit(1).executeTakeFirst();
  return row !== undefined;
}

/** The account's verified domains (lower-case, oldest first; as verifiedDomainsOf) and whether
 *  it has an enabled SSO connection, in one statement: what a SCIM creation asks first. */
export async function identityFactsOf(db: Executor, accountId: string): Promise<{ verifiedDomains: string[]; hasSsoConnection: boolean }> {
  const row = await db
    .selectNoFrom((eb) => [
      sql<string[]>`ARRAY(${eb.selectFrom('account_domains').select('domain').where('account_id', '=', accountId).where('verified_at', 'is not', null).orderBy('created_at')})`.as('domains'),
      eb.exists(eb.selectFrom('sso_connections').select('id').where('account_id', '=', accountId).where('enabled', '=', true)).as('sso'),
    ])
    .executeTakeFirstOrThrow();
  return { verifiedDomains: row.domains, hasSsoConnection: Boolean(row.sso) };
}
