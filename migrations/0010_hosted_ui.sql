-- The hosted pages' browser sessions (modules/hosted-ui). The cookie holds a random value;
-- only its SHA-256 is stored, with the Keyhold session it stands for. A page request is
-- signed in only while that session is live, so whatever ends the session (logout, a
-- password change or reset, deactivation, "sign out this device") ends the page session too.
CREATE TABLE ui_sessions (
  cookie_hash  text PRIMARY KEY,
  session_id   uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  expires_at   timestamptz NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ui_sessions_session_id_idx ON ui_sessions (session_id);
CREATE INDEX ui_sessions_expires_at_idx ON ui_sessions (expires_at);
