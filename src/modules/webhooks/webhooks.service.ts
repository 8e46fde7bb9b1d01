// Webhook endpoints: the rules behind /admin/webhooks and `keyhold webhooks …`.
//
// The secret (whsec_…) is sealed by the secret box and shown only by create and rotate-secret.
// A rotation keeps the previous secret signing for 24 hours, so receivers can switch over.
import { randomUUID } from 'node:crypto';
import type { AppContext, RequestMeta } from '../../context.js';
import { addSeconds } from '../../lib/clock.js';
import { Errors, validationError } from '../../lib/errors.js';
import { checkPage } from '../../http/paging.js';
import { recordAudit } from '../audit/audit.repo.js';
import { newEventId } from '../events/emit-event.js';
import { EVENT_TYPES } from '../events/event-types.js';
import { queueDelivery, stopDeliveries } from './webhook-jobs.js';
import { newWebhookSecret } from './webhook-sender.js';
import { checkWebhookUrl, systemResolver, type Resolver } from './url-guard.js';
import * as repo from './webhooks.repo.js';
import type { DeliveryRow, EndpointRow } from './webhooks.repo.js';
import { secretPurpose } from './webhook-jobs.js';
import { inUnitOfWork } from '../../db/unit-of-work.js';

export const PREVIOUS_SECRET_GRACE_SECONDS = 24 * 3600;
export const DELIVERY_PAGE = { defaultLimit: 50, maxLimit: 200 };
/** What an endpoint can subscribe to: every catalogued type but the test event. */
export const SUBSCRIBABLE_EVENTS: readonly string[] = EVENT_TYPES.filter((type) => type !== 'webhook.test');

export type WebhookDeps = Pick<AppContext, 'db' | 'clock' | 'config' | 'secrets'> & { jobs: AppContext['jobs'] | undefined } & { resolver?: Resolver };

export interface EndpointInput {
  url?: string;
  events?: string[] | null;
  description?: string | null;
  enabled?: boolean;
}

async function checkUrl(deps: WebhookDeps, url: string): Promise<string> {
  const trimmed = url.trim();
  if (deps.config.webhookAllowInsecureUrls) {
    if (!/^https?:\/\//i.test(trimmed) || !URL.canParse(trimmed)) throw validationError(['body', 'url'], 'URL must be an http:// or https:// URL', 'url_invalid');
    return trimmed;
  }
  const reason = await checkWebhookUrl(trimmed, deps.resolver ?? systemResolver);
  if (reason) throw validationError(['body', 'url'], reason, 'url_not_allowed');
  return trimmed;
}

function checkEvents(events: string[] | null | undefined): string[] | null {
  if (events === undefined || events === null) return null;
  events.forEach((type, i) => {
    if (!SUBSCRIBABLE_EVENTS.includes(type)) throw validationError(['body', 'events', i], `Unknown event type: ${type}`, 'event_type');
  });
  return [...new Set(events)];
}

export interface CreateWebhook {
  adminId: string | null;
  input: { url: string; events?: string[] | null; description?: string | null };
  meta: RequestMeta | null;
}

/** Who acts on which endpoint: deleteWebhook, rotateWebhookSecret, sendTestEvent. */
export interface WebhookAction {
  adminId: string | null;
  id: string;
  meta: RequestMeta | null;
}

export async function createWebhook(deps: WebhookDeps, { adminId, input, meta }: CreateWebhook): Promise<{ endpoint: EndpointRow; secret: string }> {
  const url = await checkUrl(deps, input.url);
  const events = checkEvents(input.events);
  const id = randomUUID();
  const secret = newWebhookSecret();
  const endpoint = await inUnitOfWork(deps, async (trx) => {
    const row = await repo.insertEndpoint(trx, {
      id,
      url,
      description: input.description ?? null,
      events,
      secret: deps.secrets.seal(secret, secretPurpose(id)),
      now: deps.clock.now(),
    });
    await recordAudit(trx, meta, { action: 'webhook.endpoint_created', userId: adminId, resourceType: 'webhook_endpoint', resourceId: id, details: { url, events } });
    return row;
  });
  return { endpoint, secret };
}

export const listWebhooks = (deps: Pick<AppContext, 'db'>): Promise<EndpointRow[]> => repo.listEndpoints(deps.db);

export async function getWebhook(deps: Pick<AppContext, 'db'>, id: string): Promise<EndpointRow> {
  const endpoint = await repo.findEndpoint(deps.db, id);
  if (!endpoint) throw Errors.webhookNotFound();
  return endpoint;
}

export async function updateWebhook(
  deps: WebhookDeps,
  meta: RequestMeta | null,
  change: { adminId: string | null; id: string; input: EndpointInput },
): Promise<EndpointRow> {
  const { adminId, id, input } = change;
  const url = input.url === undefined ? undefined : await checkUrl(deps, input.url);
  const events = input.events === undefined ? undefined : checkEvents(input.events);
  return inUnitOfWork(deps, async (trx) => {
    const current = await repo.findEndpoint(trx, id, true);
    if (!current) throw Errors.webhookNotFound();
    const changes = {
      ...(url !== undefined ? { url } : {}),
      ...(events !== undefined ? { events } : {}),
      ...(input.description !== undefined ? { description: input.description } : {}),
      ...(input.enabled !== undefined ? { enabled: input.enabled } : {}),
    };
    // Disabled: what is still waiting is given up (the log says why); nothing new is queued.
    if (input.enabled === false && current.enabled) await stopDeliveries(trx, id, 'Endpoint disabled');
    const updated = await repo.updateEndpoint(trx, id, { ...changes, updated_at: deps.clock.now() });
    await recordAudit(trx, meta, { action: 'webhook.endpoint_updated', userId: adminId, resourceType: 'webhook_endpoint', resourceId: id, details: changes });
    return updated;
  });
}

export async function deleteWebhook(deps: WebhookDeps, { adminId, id, meta }: WebhookAction): Promise<void> {
  await inUnitOfWork(deps, async (trx) => {
    const current = await repo.findEndpoint(trx, id, true);
    if (!current) throw Errors.webhookNotFound();
    // Its deliveries go with it (ON DELETE CASCADE); a job still queued finds nothing to do,
    // but one handed over with its data in the second before (events.repo.ts) is sent, once.
    await repo.deleteEndpoint(trx, id);
    await recordAudit(trx, meta, { action: 'webhook.endpoint_deleted', userId: adminId, resourceType: 'webhook_endpoint', resourceId: id, details: { url: current.url } });
  });
}

export async function rotateWebhookSecret(deps: WebhookDeps, { adminId, id, meta }: WebhookAction): Promise<{ endpoint: EndpointRow; secret: string }> {
  const secret = newWebhookSecret();
  const endpoint = await inUnitOfWork(deps, async (trx) => {
    const current = await repo.findEndpoint(trx, id, true);
    if (!current) throw Errors.webhookNotFound();
    const now = deps.clock.now();
    const updated = await repo.updateEndpoint(trx, id, {
      secret: deps.secrets.seal(secret, secretPurpose(id)),
      // Sealed for this row, so it opens as it is in the other column.
      previous_secret: current.secret,
      previous_secret_expires_at: addSeconds(now, PREVIOUS_SECRET_GRACE_SECONDS),
      updated_at: now,
    });
    await recordAudit(trx, meta, { action: 'webhook.secret_rotated', userId: adminId, resourceType: 'webhook_endpoint', resourceId: id });
    return updated;
  });
  return { endpoint, secret };
}

/** Queues a `webhook.test` event for this endpoint alone (enabled or not). */
export async function sendTestEvent(deps: WebhookDeps, { adminId, id, meta }: WebhookAction): Promise<DeliveryRow> {
  const eventId = newEventId();
  const delivery = await inUnitOfWork(deps, async (trx) => {
    const endpoint = await repo.findEndpoint(trx, id, true);
    if (!endpoint) throw Errors.webhookNotFound();
    await queueDelivery(trx, endpoint, {
      id: eventId,
      type: 'webhook.test',
      timestamp: deps.clock.now().toISOString(),
      data: { message: 'This is a test event from Keyhold' },
    });
    await recordAudit(trx, meta, { action: 'webhook.test_sent', userId: adminId, resourceType: 'webhook_endpoint', resourceId: id, details: { event_id: eventId } });
    return (await repo.listDeliveries(trx, id, { limit: 1, offset: 0 }))[0]!;
  });
  return delivery;
}

export async function listWebhookDeliveries(deps: Pick<AppContext, 'db'>, id: string, page: { limit?: number; offset?: number }): Promise<DeliveryRow[]> {
  const checked = checkPage(page, DELIVERY_PAGE);
  await getWebhook(deps, id);
  return repo.listDeliveries(deps.db, id, checked);
}

export const findWebhookDelivery = (deps: Pick<AppContext, 'db'>, id: string): Promise<DeliveryRow | undefined> => repo.findDelivery(deps.db, id);
