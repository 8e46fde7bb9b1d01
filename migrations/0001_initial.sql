-- Keyhold schema, version 1. PostgreSQL only (the embedded PGlite is PostgreSQL too).
-- Every secret (refresh token, reset token, verification token, OAuth state) is stored
-- only as a SHA-256 hash; the raw value exists solely in the client's hands.

CREATE TABLE accounts (
  id            uuid PRIMARY KEY,
  name          text NOT NULL,
  display_code  text NOT NULL UNIQUE CHECK (display_code ~ '^[A-Z0-9]{8}$'),
  -- Deferred so an account and its owner can be inserted in one transaction in either order.
  owner_id      uuid,
  created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE invite_codes (
  id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  code                 text NOT NULL UNIQUE CHECK (code = upper(code)),
  assigned_plan        text,
  trial_duration_days  integer CHECK (trial_duration_days IS NULL OR trial_duration_days > 0),
  expires_at           timestamptz,
  used_at              timestamptz,
  used_by_id           uuid,
  created_by_id        uuid,
  created_at           timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
  id                    uuid PRIMARY KEY,
  -- Stored trimmed and lower-cased; the unique index on lower(email) keeps the rule even
  -- if a future writer forgets to normalise.
  email                 text NOT NULL CHECK (email = lower(btrim(email)) AND length(email) <= 254),
  password_hash         text,
  name                  text NOT NULL,
  role                  text NOT NULL DEFAULT 'engineer' CHECK (role IN ('engineer', 'admin')),
  account_id            uuid NOT NULL REFERENCES accounts (id),
  account_role          text NOT NULL CHECK (account_role IN ('owner', 'admin', 'member')),
  is_active             boolean NOT NULL DEFAULT true,
  email_verified_at     timestamptz,
  must_change_password  boolean NOT NULL DEFAULT false,
  phone                 text,
  job_title             text,
  timezone              text,
  last_login            timestamptz,
  invite_code_id        uuid REFERENCES invite_codes (id),
  -- Per-account brute-force protection: consecutive failures and the lock they caused.
  failed_login_count    integer NOT NULL DEFAULT 0,
  lockout_count         integer NOT NULL DEFAULT 0,
  locked_until          timestamptz,
  created_at            timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE INDEX users_account_id_idx ON users (account_id);

ALTER TABLE accounts ADD CONSTRAINT accounts_owner_id_fkey
  FOREIGN KEY (owner_id) REFERENCES users (id) DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE invite_codes ADD CONSTRAINT invite_codes_used_by_id_fkey
  FOREIGN KEY (used_by_id) REFERENCES users (id) ON DELETE SET NULL;
ALTER TABLE invite_codes ADD CONSTRAINT invite_codes_created_by_id_fkey
  FOREIGN KEY (created_by_id) REFERENCES users (id) ON DELETE SET NULL;

CREATE TABLE subscriptions (
  id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  account_id            uuid NOT NULL UNIQUE REFERENCES accounts (id) ON DELETE CASCADE,
  plan                  text NOT NULL,
  status                text NOT NULL CHECK (status IN ('trialing', 'active', 'past_due', 'canceled')),
  current_period_start  timestamptz,
  current_period_end    timestamptz,
  created_at            timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE account_invites (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  account_id      uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  code            text NOT NULL UNIQUE,
  email           text NOT NULL CHECK (email = lower(btrim(email))),
  role            text NOT NULL CHECK (role IN ('admin', 'member')),
  invited_by_id   uuid REFERENCES users (id) ON DELETE SET NULL,
  expires_at      timestamptz NOT NULL,
  used_at         timestamptz,
  accepted_by_id  uuid REFERENCES users (id) ON DELETE SET NULL,
  revoked_at      timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now()
);
-- One open invite per address and account: re-inviting replaces it.
CREATE UNIQUE INDEX account_invites_open_key ON account_invites (account_id, email)
  WHERE used_at IS NULL AND revoked_at IS NULL;

-- A session is one sign-in on one device: the family of refresh tokens that rotation
-- produces. Access tokens name their session (sid), so revoking it kills them at once.
CREATE TABLE sessions (
  id          uuid PRIMARY KEY,
  user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at  timestamptz NOT NULL DEFAULT now(),
  revoked_at  timestamptz
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id) WHERE revoked_at IS NULL;

CREATE TABLE refresh_tokens (
  id              uuid PRIMARY KEY,
  token_hash      text NOT NULL UNIQUE,
  user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  session_id      uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  parent_id       uuid REFERENCES refresh_tokens (id) ON DELETE CASCADE,
  replaced_by_id  uuid,
  issued_at       timestamptz NOT NULL,
  expires_at      timestamptz NOT NULL,
  revoked_at      timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now()
);
-- The invariant that makes rotation safe: a session never has two live refresh tokens.
CREATE UNIQUE INDEX refresh_tokens_one_live_per_session ON refresh_tokens (session_id)
  WHERE revoked_at IS NULL;
CREATE INDEX refresh_tokens_user_id_idx ON refresh_tokens (user_id) WHERE revoked_at IS NULL;

CREATE TABLE password_reset_tokens (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  token_hash  text NOT NULL UNIQUE,
  user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  expires_at  timestamptz NOT NULL,
  used_at     timestamptz,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE email_verification_tokens (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  token_hash  text NOT NULL UNIQUE,
  user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  email       text NOT NULL,
  expires_at  timestamptz NOT NULL,
  used_at     timestamptz,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE oauth_identities (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  provider    text NOT NULL,
  subject     text NOT NULL,
  email       text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (provider, subject)
);
CREATE INDEX oauth_identities_user_id_idx ON oauth_identities (user_id);

-- Server-side half of an authorization request: single use, short-lived, shared by all
-- instances so any of them can finish a flow another started.
CREATE TABLE oauth_states (
  state_hash     text PRIMARY KEY,
  provider       text NOT NULL,
  code_verifier  text NOT NULL,
  nonce          text NOT NULL,
  redirect_uri   text NOT NULL,
  expires_at     timestamptz NOT NULL,
  used_at        timestamptz,
  created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE audit_logs (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  created_at     timestamptz NOT NULL DEFAULT now(),
  user_id        uuid,
  action         text NOT NULL,
  resource_type  text,
  resource_id    text,
  ip             text,
  user_agent     text,
  details        jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_logs_user_id_idx ON audit_logs (user_id, id DESC);
CREATE INDEX audit_logs_action_idx ON audit_logs (action, id DESC);
CREATE INDEX audit_logs_created_at_idx ON audit_logs (created_at);

CREATE TABLE platform_settings (
  key         text PRIMARY KEY,
  value       jsonb NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  updated_by  uuid REFERENCES users (id) ON DELETE SET NULL
);

-- Server-held secrets such as the generated JWT signing key (kept so tokens survive restarts).
CREATE TABLE app_secrets (
  name        text PRIMARY KEY,
  value       text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- Transactional outbox: a message is written with the change that causes it and delivered
-- by a background worker, so an SMTP outage or a crash delays mail but never drops it.
CREATE TABLE email_outbox (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  kind             text NOT NULL,
  to_address       text NOT NULL,
  subject          text NOT NULL,
  text_body        text,
  html_body        text,
  status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  last_error       text,
  sent_at          timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX email_outbox_due_idx ON email_outbox (next_attempt_at) WHERE status = 'pending';
