-- The job queue's claims cost the same whatever other kinds hold (issue 31), and webhook
-- deliveries retry each on its own (issue 24, finding 4).
--
-- 1. A lane claims the oldest due job of its own kind. The index leads with the kind, so an
--    empty claim is one descent into that kind's pending entries: a backlog of parked emails
--    or a million finished jobs (which are not in this partial index at all) never enters it.
DROP INDEX jobs_due_idx;
CREATE INDEX jobs_due_idx ON jobs (kind, next_attempt_at) WHERE status = 'pending';
-- 2. A parked kind's jobs not yet shown (logged) once: new ones are found without reading the
--    ones already shown (an SMTP outage's backlog).
CREATE INDEX jobs_unshown_idx ON jobs (kind, created_at) WHERE status = 'pending' AND last_error IS NULL;

-- 3. Webhooks: every pending delivery has a job of its own (no more one active delivery per
--    endpoint with the rest waiting behind it). The job names its endpoint, so one instance
--    runs a bounded number of one endpoint's deliveries at once.
UPDATE jobs
   SET payload = payload || jsonb_build_object('endpoint_id', d.endpoint_id)
  FROM webhook_deliveries d
 WHERE jobs.kind = 'webhook' AND jobs.status = 'pending' AND d.id::text = jobs.payload ->> 'delivery_id';
INSERT INTO jobs (kind, payload)
SELECT 'webhook', jsonb_build_object('delivery_id', d.id, 'endpoint_id', d.endpoint_id)
  FROM webhook_deliveries d
 WHERE d.status = 'pending'
   AND NOT EXISTS (SELECT 1 FROM jobs j
                    WHERE j.kind = 'webhook' AND j.status = 'pending' AND j.payload ->> 'delivery_id' = d.id::text)
 ORDER BY d.seq;
ALTER TABLE webhook_endpoints DROP COLUMN active_delivery_id;
