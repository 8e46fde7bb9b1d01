-- The console's lists (src/modules/console), flat however many rows: keyset paging and prefix
-- search served by one index each, never OFFSET.
--
-- Users by email prefix, in email order: lower(email) in byte order ("C" collation), so a
-- LIKE 'prefix%' is an index range whatever the database's collation, and the same index gives
-- the order and the keyset cursor (admin-users.repo.ts searchUsersByEmailPrefix).
CREATE INDEX users_email_prefix_idx ON users ((lower(email) COLLATE "C"));

-- Accounts by name prefix, then id (names repeat): accounts.repo.ts searchAccountsByName.
CREATE INDEX accounts_name_prefix_idx ON accounts ((lower(name) COLLATE "C"), id);

-- The audit log filtered by user or action and a time range: the existing (user_id, id DESC)
-- and (action, id DESC) indexes serve the filter alone; these serve it with a time range, where
-- walking the id index from the newest row would read every newer row first.
CREATE INDEX audit_logs_user_created_idx ON audit_logs (user_id, created_at);
CREATE INDEX audit_logs_action_created_idx ON audit_logs (action, created_at);
