// A user's apps: the clients they consented to (remembered per user, client and scope set, so
// the consent page is not shown again for what was granted), listed by GET /auth/me/apps and
// the account page, and revoked with every grant and token by DELETE /auth/me/apps/{client_id}.
import type { AppContext, RequestMeta } from '../../context.js';
import { Errors } from '../../lib/errors.js';
import { recordAudit } from '../audit/audit.repo.js';
import { emitEvent } from '../events/emit-event.js';
import type { ClientRegistration } from './client-metadata.js';
import { listClientsByIds } from './clients.repo.js';
import type { AppResponse } from './clients.schemas.js';
import { deleteUserApp, findUserApp, grantIdsOfUserAndClient, listUserApps, revokeGrantRows, saveUserApp } from './oidc-models.repo.js';
import { inUnitOfWork } from '../../db/unit-of-work.js';

type Deps = Pick<AppContext, 'db' | 'clock'> & { jobs: AppContext['jobs'] | undefined };

/** Whether the user already consented to every one of `scopes` for this client. */
export async function consentCovers(deps: Pick<AppContext, 'db'>, { userId, clientId, scopes }: { userId: string; clientId: string; scopes: readonly string[] }): Promise<boolean> {
  const app = await findUserApp(deps.db, userId, clientId);
  return app !== undefined && scopes.every((scope) => app.scopes.includes(scope));
}

/** Records a consent (the union with what was granted before) and audits it. */
export async function rememberConsent(
  deps: Deps,
  consent: { userId: string; clientId: string; scopes: readonly string[]; grantId: string },
  meta: RequestMeta | null,
): Promise<void> {
  const { userId, clientId, scopes, grantId } = consent;
  await inUnitOfWork(deps, async (trx) => {
    const now = deps.clock.now().toISOString();
    const before = await findUserApp(trx, userId, clientId);
    const union = [...new Set([...(before?.scopes ?? []), ...scopes])];
    const grantIds = [...new Set([...(before?.grantIds ?? []), grantId])];
    await saveUserApp(trx, userId, { clientId, scopes: union, grantedAt: before?.grantedAt ?? now, lastUsedAt: now, grantIds });
    await recordAudit(trx, meta, { action: 'oidc.consent_granted', userId, resourceType: 'oauth_client', resourceId: clientId, details: { scopes: [...scopes] } });
  });
}

/** Marks an app used now (a silent sign-in that skipped the consent page). */
export async function touchApp(deps: Deps, userId: string, clientId: string): Promise<void> {
  const app = await findUserApp(deps.db, userId, clientId);
  if (app) await saveUserApp(deps.db, userId, { ...app, lastUsedAt: deps.clock.now().toISOString() });
}

export async function listApps(deps: Pick<AppContext, 'db'>, userId: string): Promise<AppResponse[]> {
  const apps = await listUserApps(deps.db, userId);
  const clients = new Map((await listClientsByIds(deps.db, apps.map((app) => app.clientId))).map((client) => [client.client_id, client]));
  return apps
    .filter((app) => clients.has(app.clientId))
    .map((app) => {
      const client = clients.get(app.clientId)!;
      return {
        client_id: app.clientId,
        name: client.name,
        logo_uri: (client.metadata as unknown as ClientRegistration).logo_uri,
        scopes: app.scopes,
        granted_at: app.grantedAt,
        last_used_at: app.lastUsedAt,
      };
    })
    .sort((a, b) => b.last_used_at.localeCompare(a.last_used_at));
}

/** Ends the user's grants to a client, with every token issued under them, and forgets the consent. */
export interface AppRevocation {
  userId: string;
  clientId: string;
  meta: RequestMeta | null;
  /** The audit row's and the event's `reason` (default user_revoked). */
  reason?: string;
}

export async function revokeApp(deps: Deps, { userId, clientId, meta, reason = 'user_revoked' }: AppRevocation): Promise<void> {
  await inUnitOfWork(deps, async (trx) => {
    const remembered = await deleteUserApp(trx, userId, clientId);
    const grants = await grantIdsOfUserAndClient(trx, userId, clientId);
    if (!remembered && grants.length === 0) throw Errors.appNotFound();
    for (const grantId of grants) await revokeGrantRows(trx, grantId);
    await recordAudit(trx, meta, { action: 'oidc.grant_revoked', userId, resourceType: 'oauth_client', resourceId: clientId, details: { reason } });
    await emitEvent(deps, trx, { type: 'oidc.grant_revoked', data: { user_id: userId, client_id: clientId, reason } });
  });
}
