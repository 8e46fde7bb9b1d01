// When a Keyhold session ends, for any reason (events/session-events.ts queues `sessions-ended`
// in the transaction that ended it): the provider sessions it stood for end too, so no app can
// sign in on it silently, and every client it signed in to that registered a
// backchannel_logout_uri is sent a logout token (OpenID Connect Back-Channel Logout 1.0), one
// job per client, retried on the webhooks' schedule, through the URL guard (webhooks/guarded-fetch.ts).
import type { AppContext } from '../../context.js';
import { enqueue } from '../jobs/jobs.repo.js';
import { stepSchedule, type JobQueue } from '../jobs/job-queue.js';
import { PermanentJobError } from '../jobs/jobs.types.js';
import { deleteProviderSessions, providerSessionsOf } from './oidc-models.repo.js';
import type { OidcProvider } from './provider-types.js';

export interface BackchannelLogoutPayload {
  client_id: string;
  sub: string;
  sid: string;
}

declare module '../jobs/jobs.types.js' {
  interface JobPayloads {
    'oidc-backchannel-logout': BackchannelLogoutPayload;
  }
}

/** 5 s, 1 min, 5 min, 30 min, 2 h, 6 h, then 12 h: about three days over 11 attempts (as webhooks). */
const RETRY_DELAYS_MS = [5_000, 60_000, 300_000, 1_800_000, 7_200_000, 21_600_000, 43_200_000];
const MAX_ATTEMPTS = 11;

/**
 * Registered on every instance, the provider on or off (a session may end on an instance with
 * it off). `provider` is undefined when it is off: provider sessions still end, and logout
 * tokens wait for an instance that can sign them.
 */
export function registerSessionEndJobs(jobs: JobQueue, ctx: Pick<AppContext, 'db'>, provider?: () => Promise<OidcProvider>): void {
  jobs.register({
    kind: 'sessions-ended',
    maxAttempts: 10,
    retryDelayMs: stepSchedule([1_000, 10_000, 60_000]),
    enqueues: ['oidc-backchannel-logout'],
    async run(job) {
      await ctx.db.transaction().execute(async (trx) => {
        const sessions = await providerSessionsOf(trx, job.payload.session_ids);
        for (const session of sessions) {
          const payload = session.payload as { accountId?: string; authorizations?: Record<string, { sid?: string }> };
          if (!payload.accountId) continue;
          for (const [clientId, authorization] of Object.entries(payload.authorizations ?? {})) {
            if (authorization.sid) await enqueue(trx, 'oidc-backchannel-logout', { client_id: clientId, sub: payload.accountId, sid: authorization.sid });
          }
        }
        await deleteProviderSessions(trx, sessions.map((session) => session.id));
      });
    },
  });
  if (!provider) {
    jobs.park({ kind: 'oidc-backchannel-logout', reason: 'OIDC_PROVIDER_ENABLED is off on this instance', onParked: () => {} });
    return;
  }
  jobs.register({
    kind: 'oidc-backchannel-logout',
    maxAttempts: MAX_ATTEMPTS,
    retryDelayMs: stepSchedule(RETRY_DELAYS_MS),
    concurrency: 4,
    describe: (payload) => ({ client_id: payload.client_id }),
    async run(job) {
      const client = await (await provider()).Client.find(job.payload.client_id);
      // A client removed, or one without a back-channel URI: nobody to tell.
      if (!client?.backchannelLogoutUri) return;
      try {
        await client.backchannelLogout(job.payload.sub, job.payload.sid);
      } catch (err) {
        const message = (err as Error).message;
        if (message.startsWith('refused:')) throw new PermanentJobError(message);
        throw err;
      }
    },
  });
}
