// Request and response shapes of /admin/webhooks (the OpenAPI document is built from these).
import { Type, type Static } from '@sinclair/typebox';
import { DateTime, FreeText, Nullable, Uuid } from '../../http/schema-types.js';
import { QueryInteger } from '../../http/request-params.js';
import type { DeliveryRow, EndpointRow } from './webhooks.repo.js';

const Url = Type.String({ minLength: 1, maxLength: 2048, description: 'https:// only; must not resolve to a non-public address' });
const Events = Type.Array(Type.String({ maxLength: 100 }), {
  maxItems: 50,
  description: 'Event types to receive; omitted or null: every type',
});
const Description = FreeText({ maxLength: 500 });

export const CreateWebhookBody = Type.Object({
  url: Url,
  events: Type.Optional(Nullable(Events)),
  description: Type.Optional(Nullable(Description)),
});

export const UpdateWebhookBody = Type.Object({
  url: Type.Optional(Url),
  events: Type.Optional(Nullable(Events)),
  description: Type.Optional(Nullable(Description)),
  enabled: Type.Optional(Type.Boolean()),
});

export const WebhookParams = Type.Object({ id: Uuid });
export const DeliveriesQuery = Type.Object({ limit: Type.Optional(QueryInteger), offset: Type.Optional(QueryInteger) });

export const WebhookResponse = Type.Object({
  id: Uuid,
  url: Type.String(),
  events: Nullable(Type.Array(Type.String())),
  description: Nullable(Type.String()),
  enabled: Type.Boolean(),
  created_at: DateTime,
});
export type WebhookResponse = Static<typeof WebhookResponse>;

/** Only the create and rotate-secret replies carry the secret. */
export const WebhookWithSecretResponse = Type.Composite([
  WebhookResponse,
  Type.Object({ secret: Type.String({ description: 'whsec_…: shown only here' }) }),
]);
export type WebhookWithSecretResponse = Static<typeof WebhookWithSecretResponse>;

export const DeliveryResponse = Type.Object({
  id: Uuid,
  event_id: Type.String({ description: 'The webhook-id header, the same on every attempt' }),
  type: Type.String(),
  attempt: Type.Integer({ description: 'Attempts made so far' }),
  status: Type.Union([Type.Literal('pending'), Type.Literal('succeeded'), Type.Literal('failed')]),
  response_status: Nullable(Type.Integer()),
  duration_ms: Nullable(Type.Integer()),
  error: Nullable(Type.String()),
  created_at: DateTime,
});
export type DeliveryResponse = Static<typeof DeliveryResponse>;

export const toWebhookResponse = (row: EndpointRow): WebhookResponse => ({
  id: row.id,
  url: row.url,
  events: row.events,
  description: row.description,
  enabled: row.enabled,
  created_at: row.created_at.toISOString(),
});

export const toDeliveryResponse = (row: DeliveryRow): DeliveryResponse => ({
  id: row.id,
  event_id: row.event_id,
  type: row.type,
  attempt: row.attempts,
  status: row.status,
  response_status: row.response_status,
  duration_ms: row.duration_ms,
  error: row.error,
  created_at: row.created_at.toISOString(),
});
