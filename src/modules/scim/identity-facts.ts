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
import { hasEnabledSsoConnection, identityFactsOf } from '../domains/sso-connection-exists.js';

export interface AccountIdentityFacts {
  /** Lower-case domain names the account has verified. */
  verifiedDomains(accountId: string): Promise<string[]>;
  hasSsoConnection(accountId: string): Promise<boolean>;
  /** Both at once (a POST /Users needs both: one statement instead of two). */
  both?(accountId: string): Promise<{ verifiedDomains: string[]; hasSsoConnection: boolean }>;
}

export const databaseIdentityFacts = (db: Executor): AccountIdentityFacts => ({
  verifiedDomains: (accountId) => verifiedDomainsOf(db, accountId),
  hasSsoConnection: (accountId) => hasEnabledSsoConnection(db, accountId),
  both: (accountId) => identityFactsOf(db, accountId),
});

/** Both facts, with one statement where the facts offer it. */
export async function factsOf(facts: AccountIdentityFacts, accountId: string): Promise<{ verifiedDomains: string[]; hasSsoConnection: boolean }> {
  if (facts.both) return facts.both(accountId);
  return { verifiedDomains: await facts.verifiedDomains(accountId), hasSsoConnection: await facts.hasSsoConnection(accountId) };
}

/** Whether `email`'s domain is one of `domains` (exact match, case-insensitive). */
export function isOnDomains(email: string, domains: readonly string[]): boolean {
  const at = email.lastIndexOf('@');
  if (at < 0) return false;
  const domain = email.slice(at + 1).toLowerCase();
  return domains.some((d) => d.toLowerCase() === domain);
}
