// Claiming, proving and dropping an account's domains. Every function acts on one account (the
// scope the route resolved: the caller's own, or any for a platform admin) and only on its rows.
import { randomUUID } from 'node:crypto';
import type { AppContext, RequestMeta } from '../../context.js';
import type { AccountScope } from '../accounts/account-scope.js';
import type { AccountDomainRow } from '../../db/schema.js';
import { isUniqueViolation } from '../../db/errors.js';
import { Errors } from '../../lib/errors.js';
import { randomToken } from '../../lib/random.js';
import { recordAudit } from '../audit/audit.repo.js';
import { emitEvent } from '../events/emit-event.js';
import { hasVerificationRecord, type TxtLookup } from './dns-verification.js';
import { normaliseDomain, refusalReason } from './domain-name.js';
import { deleteDomain, findDomain, insertDomain, listDomains, markDomainVerified } from './domains.repo.js';
import { inUnitOfWork } from '../../db/unit-of-work.js';
import { queueEnforcementSweep } from '../sso-policy/enforcement.js';


type Deps = Pick<AppContext, 'db' | 'clock' | 'jobs'>;

export interface ClaimDomain {
  scope: AccountScope;
  /** The domain as typed; normalised here. */
  input: string;
  meta: RequestMeta;
}

/** One of the account's domains, by id (verifyDomain, removeDomain). */
export interface DomainById {
  scope: AccountScope;
  id: string;
  meta: RequestMeta;
}

export async function claimDomain(ctx: Deps, { scope, input, meta }: ClaimDomain): Promise<AccountDomainRow> {
  const domain = normaliseDomain(input);
  if (refusalReason(domain) !== null) throw Errors.domainNotAllowed();
  return inUnitOfWork(ctx, async (trx) => {
    const now = ctx.clock.now();
    const row = await insertDomain(trx, { id: randomUUID(), accountId: scope.accountId, domain, verificationToken: randomToken(24), now });
    // Claimed twice by the same account: the first claim (and its record) stands.
    if (!row) return (await listDomains(trx, scope.accountId)).find((d) => d.domain === domain)!;
    await recordAudit(trx, meta, { action: 'domain.claimed', userId: scope.actorId, resourceType: 'account_domain', resourceId: row.id, details: { account_id: scope.accountId, domain } });
    return row;
  });
}

export async function listAccountDomains(ctx: Pick<AppContext, 'db'>, scope: AccountScope): Promise<AccountDomainRow[]> {
  return listDomains(ctx.db, scope.accountId);
}

/** Looks for the TXT record now; 400 domain_verification_failed without it, 409 domain_taken
 *  when another account verified the domain first. */
export async function verifyDomain(ctx: Deps, lookup: TxtLookup, { scope, id, meta }: DomainById): Promise<AccountDomainRow> {
  const claim = await findDomain(ctx.db, scope.accountId, id);
  if (!claim) throw Errors.domainNotFound();
  if (claim.verified_at) return claim;
  // Outside the transaction: a DNS answer may take seconds, and no row needs to wait for it.
  if (!(await hasVerificationRecord(lookup, claim.domain, claim.verification_token))) throw Errors.domainVerificationFailed();
  let verified: AccountDomainRow;
  try {
    verified = await inUnitOfWork(ctx, async (trx) => {
      const row = await markDomainVerified(trx, { accountId: scope.accountId, id, now: ctx.clock.now() });
      if (!row) return (await findDomain(trx, scope.accountId, id)) ?? Promise.reject(Errors.domainNotFound());
      await recordAudit(trx, meta, { action: 'domain.verified', userId: scope.actorId, resourceType: 'account_domain', resourceId: row.id, details: { account_id: scope.accountId, domain: row.domain } });
      await emitEvent(ctx, trx, { type: 'account.domain_verified', data: { id: row.id, account_id: row.account_id, domain: row.domain, verified_at: row.verified_at!.toISOString() } });
      // Where the account enforces SSO, the domain's people are now bound by it: their other
      // sessions end as when enforcement is turned on (a job: it asks the policy when it runs).
      await queueEnforcementSweep(trx, { accountId: scope.accountId });
      return row;
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw Errors.domainTaken();
    throw err;
  }
  return verified;
}

export async function removeDomain(ctx: Deps, { scope, id, meta }: DomainById): Promise<void> {
  await inUnitOfWork(ctx, async (trx) => {
    const row = await deleteDomain(trx, scope.accountId, id);
    if (!row) throw Errors.domainNotFound();
    await recordAudit(trx, meta, { action: 'domain.deleted', userId: scope.actorId, resourceType: 'account_domain', resourceId: row.id, details: { account_id: scope.accountId, domain: row.domain } });
  });
}
