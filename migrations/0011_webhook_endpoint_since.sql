-- An endpoint receives the events from its creation on. Both sides of that comparison are the
-- database's clock: this column's now() against the event job's jobs.created_at (also now()),
-- so the clocks of the instances, the CLI and test clocks never enter into it. Endpoints that
-- exist already keep receiving everything (-infinity); new ones start when they are created.
ALTER TABLE webhook_endpoints ADD COLUMN receives_events_since timestamptz NOT NULL DEFAULT '-infinity';
ALTER TABLE webhook_endpoints ALTER COLUMN receives_events_since SET DEFAULT now();
