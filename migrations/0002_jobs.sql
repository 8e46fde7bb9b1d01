-- One durable job queue for every kind of background work (email first; webhooks, purges and
-- key rotation later), and the schedule of periodic tasks. Replaces email_outbox: its rows are
-- carried over as jobs of kind 'email', so nothing queued before the upgrade is lost.

CREATE TABLE jobs (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  kind             text NOT NULL,
  payload          jsonb NOT NULL,
  status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
  -- Attempts started, including one in progress.
  attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  -- When the job is due. A claim pushes it forward by the kind's lease, which keeps the job
  -- away from every other worker while it runs; a worker that dies leaves it due again then.
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  last_error       text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  finished_at      timestamptz,
  CHECK ((status = 'pending') = (finished_at IS NULL))
);
-- Claims: the oldest due pending job.
CREATE INDEX jobs_due_idx ON jobs (next_attempt_at) WHERE status = 'pending';
-- Retention: finished jobs by age.
CREATE INDEX jobs_finished_idx ON jobs (finished_at) WHERE status <> 'pending';

INSERT INTO jobs (id, kind, payload, status, attempts, next_attempt_at, last_error, created_at, finished_at)
SELECT id,
       'email',
       jsonb_build_object('template', kind, 'to', to_address, 'subject', subject, 'text', text_body, 'html', html_body),
       CASE status WHEN 'sent' THEN 'succeeded' ELSE status END,
       attempts,
       next_attempt_at,
       last_error,
       created_at,
       -- A failed row has no time of its own: its last claim's lease end is the closest.
       CASE status WHEN 'pending' THEN NULL ELSE COALESCE(sent_at, next_attempt_at) END
  FROM email_outbox;

DROP TABLE email_outbox;

-- One row per task registered with every(name, …). The next run time lives here, not in an
-- instance's memory, so it survives restarts and every instance agrees on it. A run is claimed
-- by one conditional UPDATE (due, and not running anywhere) that also moves next_run_at on, so
-- each interval has at most one run; running_until is that run's lease, renewed while it runs.
CREATE TABLE periodic_tasks (
  name              text PRIMARY KEY,
  next_run_at       timestamptz NOT NULL,
  running_until     timestamptz,
  -- Which run holds the lease: its heartbeat and its finish touch the row only while it does.
  run_id            uuid,
  last_started_at   timestamptz,
  last_finished_at  timestamptz,
  last_error        text
);
