// The two facts SCIM needs from enterprise SSO (modules/sso, issue 28), behind a narrow
// interface so this module does not reach into that one's tables:
// - the account's verified domains: a user alone in a personal account whose email is on one
//   of them is adopted by a POST /Users instead of refused (409), and such an address is
//   taken as verified;
// - whether the account has an SSO connection: a provisioned user without a password signs in
//   through it; where there is none, they are emailed an invitation to set a password.
// databaseIdentityFacts reads them from the SSO module's tables (verified domains, connections).
import type { Executor } from '../../db/database.js';
import { verifiedDomainsOf } from '../domains/domains.repo.js';
import { hasEnabledSsoConnection } from '../domains/sso-connection-exists.js';

export interface AccountIdentityFacts {
  /** Lower-case domain names the account has verified. */
  verifiedDomains(accountId: string): Promise<string[]>;
  hasSsoConnection(accountId: string): Promise<boolean>;
}

export const databaseIdentityFacts = (db: Executor): AccountIdentityFacts => ({
  verifiedDomains: (accountId) => verifiedDomainsOf(db, accountId),
  hasSsoConnection: (accountId) => hasEnabledSsoConnection(db, accountId),
});

/** Whether `email`'s domain is one of `domains` (exact match, case-insensitive). */
export function isOnDomains(email: string, domains: readonly string[]): boolean {
  const at = email.lastIndexOf('@');
  if (at < 0) return false;
  const domain = email.slice(at + 1).toLowerCase();
  return domains.some((d) => d.toLowerCase() === domain);
}
