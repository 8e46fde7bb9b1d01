// For SCIM (modules/scim): whether an account has an enabled SSO connection, so a provisioned
// user without a password is sent to it rather than emailed a link to set one. Reads sso28's
// sso_connections (migration 0016); sso28 may fold this into its own connections repo.
import type { Executor } from '../../db/database.js';

export async function hasEnabledSsoConnection(db: Executor, accountId: string): Promise<boolean> {
  const row = await db.selectFrom('sso_connections').select('id').where('account_id', '=', accountId).where('enabled', '=', true).limit(1).executeTakeFirst();
  return row !== undefined;
}
