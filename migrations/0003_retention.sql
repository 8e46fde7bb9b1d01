-- Retention (src/modules/retention): what the purges need, each deleting one bounded batch.

-- refresh_tokens.parent_id is lineage only: nothing reads it (reuse detection and the grace
-- window follow replaced_by_id, which never had a foreign key). Its ON DELETE CASCADE made
-- deleting one old token delete every token rotated from it, the live one included, in one
-- unbounded statement; and any foreign key on it would make each deleted row look for rows
-- pointing at it (an index on parent_id, maintained by every refresh, just for that). A family
-- is only ever purged whole (once its newest token has expired), so a dangling parent_id can
-- exist only inside a family that nothing can present any more.
ALTER TABLE refresh_tokens DROP CONSTRAINT refresh_tokens_parent_id_fkey;

-- Every token of a session: a family's purge, the "any token still unexpired?" check, and the
-- ON DELETE CASCADE from sessions (which had no index to use for it).
CREATE INDEX refresh_tokens_session_id_expires_at_idx ON refresh_tokens (session_id, expires_at);
-- The newest token of each session (the only one not replaced), by expiry: the families whose
-- newest token has expired, oldest first, without visiting live ones.
CREATE INDEX refresh_tokens_newest_expires_at_idx ON refresh_tokens (expires_at) WHERE replaced_by_id IS NULL;

-- Revoked sessions, oldest revocation first (30 days, then purged).
CREATE INDEX sessions_revoked_at_idx ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;

-- Single-use rows by the moment they stopped being usable: used, or expired, whichever came
-- first (LEAST skips a NULL used_at). The purge's WHERE repeats this expression exactly.
CREATE INDEX password_reset_tokens_spent_at_idx ON password_reset_tokens ((LEAST(used_at, expires_at)));
CREATE INDEX email_verification_tokens_spent_at_idx ON email_verification_tokens ((LEAST(used_at, expires_at)));
CREATE INDEX oauth_states_spent_at_idx ON oauth_states ((LEAST(used_at, expires_at)));

-- audit_logs: audit_logs_created_at_idx (0001) serves its purge.
