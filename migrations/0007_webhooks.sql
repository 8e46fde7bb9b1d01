-- Webhooks: the endpoints other services registered, and one delivery row per (endpoint, event).
--
-- Deliveries of one endpoint go out one at a time, in order of creation (seq): only the
-- endpoint's active delivery (active_delivery_id) has a job in the queue; when it ends
-- (delivered, or given up) the next pending one gets its job, under the endpoint's row lock.

CREATE TABLE webhook_endpoints (
  id                          uuid PRIMARY KEY,
  url                         text NOT NULL,
  description                 text,
  -- NULL: every event type (including types added later).
  events                      text[],
  enabled                     boolean NOT NULL DEFAULT true,
  -- whsec_… sealed by the secret box (purpose webhook-secret:<id>).
  secret                      text NOT NULL,
  -- After a rotation the old secret also signs until previous_secret_expires_at.
  previous_secret             text,
  previous_secret_expires_at  timestamptz,
  active_delivery_id          uuid,
  created_at                  timestamptz NOT NULL DEFAULT now(),
  updated_at                  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE webhook_deliveries (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  -- Order of creation per endpoint (created_at is the transaction's start: not an order).
  seq              bigint GENERATED ALWAYS AS IDENTITY,
  endpoint_id      uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
  -- The event's msg_… id: the webhook-id header, the same on every attempt.
  event_id         text NOT NULL,
  type             text NOT NULL,
  -- The exact JSON body that is signed and sent.
  body             text NOT NULL,
  status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
  attempts         integer NOT NULL DEFAULT 0,
  response_status  integer,
  duration_ms      integer,
  error            text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  last_attempt_at  timestamptz,
  finished_at      timestamptz,
  CHECK ((status = 'pending') = (finished_at IS NULL)),
  -- A fan-out retried after a crash does not deliver an event twice.
  UNIQUE (endpoint_id, event_id)
);
-- The next pending delivery of an endpoint.
CREATE INDEX webhook_deliveries_pending_idx ON webhook_deliveries (endpoint_id, seq) WHERE status = 'pending';
-- The delivery log, newest first.
CREATE INDEX webhook_deliveries_log_idx ON webhook_deliveries (endpoint_id, seq DESC);
-- Retention: finished deliveries by age.
CREATE INDEX webhook_deliveries_finished_idx ON webhook_deliveries (finished_at) WHERE status <> 'pending';
