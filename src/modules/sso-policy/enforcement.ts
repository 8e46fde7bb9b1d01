// SSO enforcement (API.md "Enterprise single sign-on, per account", `enforced`): a person whose
// email is on a verified domain of an account that enforces SSO signs in through that
// account's identity provider only. Below both the sign-in seam (modules/auth), which asks this
// for every other first factor, and modules/sso, which owns the policy: so neither depends on
// the other's folder.
import { preparedStatement } from '../../db/prepared.js';
import type { Executor } from '../../db/database.js';
import { Errors } from '../../lib/errors.js';
import { enqueue, enqueueLater } from '../jobs/jobs.repo.js';

declare module '../jobs/jobs.types.js' {
  interface JobPayloads {
    /** Run by modules/sso/enforcement-sweep.ts. */
    'sso-enforcement-sweep': { account_id: string };
  }
}

/** The part after the last `@`, lower-cased. */
const domainOf = (email: string): string => email.slice(email.lastIndexOf('@') + 1).toLowerCase();

/** Where a verified domain's account enforces SSO: its first enabled connection (null if none). */
export interface EnforcedSso {
  connectionId: string | null;
}

// Asked on every sign-in that is not SSO: prepared (db/prepared.ts).
const enforcedFor = preparedStatement<{ connection_id: string | null }>('sso_enforced_for_domain', `
    SELECT (SELECT c.id FROM sso_connections c WHERE c.account_id = d.account_id AND c.enabled ORDER BY c.created_at LIMIT 1) AS connection_id
      FROM account_domains d
      JOIN sso_settings s ON s.account_id = d.account_id AND s.enforced
     WHERE d.domain = $1 AND d.verified_at IS NOT NULL`);

/**
 * When the email's domain is verified by an account that enforces SSO: that account's first
 * enabled connection (null when it has none enabled). Otherwise undefined.
 */
export async function enforcedSsoFor(db: Executor, email: string): Promise<EnforcedSso | undefined> {
  const [row] = await enforcedFor(db, [domainOf(email)]);
  return row ? { connectionId: row.connection_id } : undefined;
}

/**
 * 403 sso_required for a user who must sign in through SSO. `known`: the policy as the caller
 * read it just before (null: not enforced), so it is not asked again; left out, it is asked.
 */
export async function refuseWhereSsoIsEnforced(db: Executor, email: string, known?: EnforcedSso | null): Promise<void> {
  const enforced = known !== undefined ? known : await enforcedSsoFor(db, email);
  if (enforced) throw Errors.ssoRequired(enforced.connectionId);
}

/**
 * Queues a sweep of the account's people (modules/sso/enforcement-sweep.ts): where the account
 * enforces SSO when it runs, the sessions not made by SSO of everyone on its verified domains
 * end. Queued when enforcement is turned on (again, a little later) and when the account
 * verifies a domain (its people were not swept before).
 */
export async function queueEnforcementSweep(db: Executor, { accountId, delaySeconds = 0 }: { accountId: string; delaySeconds?: number }): Promise<void> {
  const payload = { account_id: accountId };
  if (delaySeconds > 0) await enqueueLater(db, { kind: 'sso-enforcement-sweep', payload, delaySeconds });
  else await enqueue(db, 'sso-enforcement-sweep', payload);
}
