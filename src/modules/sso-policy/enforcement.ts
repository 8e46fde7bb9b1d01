// SSO enforcement (API.md "Enterprise single sign-on, per account", `enforced`): a person whose
// email is on a verified domain of an account that enforces SSO signs in through that
// account's identity provider only. Below both the sign-in seam (modules/auth), which asks this
// for every other first factor, and modules/sso, which owns the policy: so neither depends on
// the other's folder. The password login's look-up (modules/lockout) reads it in its own
// statement, as a column.
import { preparedStatement } from '../../db/prepared.js';
import type { Executor } from '../../db/database.js';
import { Errors } from '../../lib/errors.js';

/** The part after the last `@`, lower-cased. */
export const domainOf = (email: string): string => email.slice(email.lastIndexOf('@') + 1).toLowerCase();

/** Where a verified domain's account enforces SSO: its first enabled connection (null if none). */
export interface EnforcedSso {
  connectionId: string | null;
}

// A row where `domain` (an SQL expression) is verified by an account that enforces SSO.
const enforcedForDomain = (domain: string): string => `
    SELECT (SELECT c.id FROM sso_connections c WHERE c.account_id = d.account_id AND c.enabled ORDER BY c.created_at LIMIT 1) AS connection_id
      FROM account_domains d
      JOIN sso_settings s ON s.account_id = d.account_id AND s.enforced
     WHERE d.domain = ${domain} AND d.verified_at IS NOT NULL`;

// Asked on every sign-in that is not SSO: prepared (db/prepared.ts).
const enforcedFor = preparedStatement<{ connection_id: string | null }>('sso_enforced_for_domain', enforcedForDomain('$1'));

/**
 * The same question as a column of another statement, for a first factor that reads it with
 * the user (the password login's look-up, lockout.repo.ts: one round trip fewer per login).
 * `domainParameter` is the placeholder bound to domainOf(email); the column is a JSON object
 * with `connection_id` where SSO is enforced, else NULL (read it with enforcementOf).
 */
export const enforcedSsoColumn = (domainParameter: string): string => `(SELECT to_jsonb(e) FROM (${enforcedForDomain(domainParameter)}) e LIMIT 1)`;

/** What enforcedSsoColumn read: the enforcement, or null where there is none. */
export const enforcementOf = (column: { connection_id: string | null } | null): EnforcedSso | null => (column ? { connectionId: column.connection_id } : null);

/**
 * When the email's domain is verified by an account that enforces SSO: that account's first
 * enabled connection (null when it has none enabled). Otherwise undefined.
 */
export async function enforcedSsoFor(db: Executor, email: string): Promise<EnforcedSso | undefined> {
  const [row] = await enforcedFor(db, [domainOf(email)]);
  return row ? { connectionId: row.connection_id } : undefined;
}

/** 403 sso_required for a user who must sign in through SSO. */
export async function refuseWhereSsoIsEnforced(db: Executor, email: string): Promise<void> {
  const enforced = await enforcedSsoFor(db, email);
  if (enforced) throw Errors.ssoRequired(enforced.connectionId);
}
