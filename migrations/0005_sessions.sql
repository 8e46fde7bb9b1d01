-- Sessions remember where and how they began (the sign-in's IP, user agent, assurance level
-- and methods) and when they were last used, for the device list and for the aal/amr claims
-- of every access token the session mints. Sessions from 0.1 have no recorded methods.
ALTER TABLE sessions
  ADD COLUMN ip text,
  ADD COLUMN user_agent text,
  ADD COLUMN last_used_at timestamptz,
  ADD COLUMN last_ip text,
  ADD COLUMN aal text NOT NULL DEFAULT 'aal1',
  ADD COLUMN amr text[] NOT NULL DEFAULT '{}';
UPDATE sessions SET last_used_at = created_at;
