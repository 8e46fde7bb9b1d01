// Enforcement's sweep (API.md "Enterprise single sign-on, per account", `enforced`): when an
// account turns enforcement on, the sessions that people on its verified domains made by other
// methods (password, social, passkey) end (setPolicy, connections.service.ts), and they end once
// more a little later, in the `sso-enforcement-sweep` job queued with the change
// (sso-policy/enforcement.ts queueEnforcementSweep).
//
// Why twice: a sign-in reads the policy without a lock, shortly before it writes its session
// (the password login just before its one write, auth/login.service.ts; the other factors in
// their transaction, auth/sign-in.ts). One that read "not enforced" just before the enforcement
// committed can write its session just after the first sweep read the sessions, and that session
// would outlive the enforcement. Within SSO_ENFORCEMENT_RESWEEP_SECONDS, the second sweep ends
// it. Locking the policy on every sign-in instead would cost every sign-in of an enforcing
// account's domains a row lock (and a round trip for the password login).
//
// The same job sweeps when an account verifies a domain (domains.service.ts): where it
// enforces SSO, that domain's people keep no session made another way.
import type { AppContext } from '../../context.js';
import type { Executor } from '../../db/database.js';
import { inUnitOfWork } from '../../db/unit-of-work.js';
import { verifiedDomainsOf } from '../domains/domains.repo.js';
import { emitSessionsRevoked } from '../events/session-events.js';
import { stepSchedule, type JobQueue } from '../jobs/job-queue.js';
import { revokeSessionsNotUsing } from '../sessions/device-sessions.repo.js';
import { listUserIdsOnDomains } from '../users/users.repo.js';
import { findPolicy } from './sso.repo.js';

type Deps = Pick<AppContext, 'db' | 'clock' | 'config' | 'log' | 'jobs'>;

/** Ends the sessions not made through SSO of everyone on the account's verified domains; how many ended. */
export async function endSessionsNotUsingSso(ctx: Pick<AppContext, 'clock'>, trx: Executor, accountId: string): Promise<number> {
  const userIds = await listUserIdsOnDomains(trx, await verifiedDomainsOf(trx, accountId));
  const ended = await revokeSessionsNotUsing(trx, { userIds, method: 'sso', now: ctx.clock.now() });
  await emitSessionsRevoked(ctx, trx, { sessions: ended, reason: 'sso_enforced' });
  return ended.length;
}

export function registerSsoJobs(queue: JobQueue, ctx: Deps): void {
  queue.register({
    kind: 'sso-enforcement-sweep',
    // Only database work: a failure is the database's.
    maxAttempts: 10,
    retryDelayMs: stepSchedule([10_000, 60_000, 300_000]),
    async run(job) {
      const ended = await inUnitOfWork(ctx, async (trx) => {
        // Turned off again meanwhile: nothing to end.
        if (!(await findPolicy(trx, job.payload.account_id)).enforced) return 0;
        return endSessionsNotUsingSso(ctx, trx, job.payload.account_id);
      });
      if (ended > 0) ctx.log.info({ sso: { account: job.payload.account_id, sessionsEnded: ended } }, 'sso enforcement: a sweep ended sessions not made by SSO');
    },
    describe: (payload) => ({ account: payload.account_id }),
  });
}
