-- Keyhold as an OpenID Provider (modules/oidc-provider).
--
-- oidc_models: everything oidc-provider persists (sessions, interactions, grants, codes, access
-- and refresh tokens, PAR and device requests, replay detection), one row per model instance,
-- its payload as JSONB. Beside the payload, the columns the adapter looks up by (grant, uid,
-- user code) and the ones Keyhold adds: whose row it is (user_id) and which Keyhold session a
-- provider session stands for (session_id), so that ending a Keyhold session ends the provider
-- session and starts back-channel logout. Rows past expires_at are never returned and are purged
-- by retention.
CREATE TABLE oidc_models (
  model        text NOT NULL,
  id           text NOT NULL,
  payload      jsonb NOT NULL,
  grant_id     text,
  uid          text,
  user_code    text,
  user_id      uuid,
  session_id   uuid,
  expires_at   timestamptz,
  consumed_at  timestamptz,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (model, id)
);
CREATE INDEX oidc_models_grant_id_idx ON oidc_models (grant_id) WHERE grant_id IS NOT NULL;
CREATE INDEX oidc_models_uid_idx ON oidc_models (model, uid) WHERE uid IS NOT NULL;
CREATE INDEX oidc_models_user_code_idx ON oidc_models (model, user_code) WHERE user_code IS NOT NULL;
CREATE INDEX oidc_models_user_id_idx ON oidc_models (model, user_id) WHERE user_id IS NOT NULL;
CREATE INDEX oidc_models_session_id_idx ON oidc_models (session_id) WHERE session_id IS NOT NULL;
CREATE INDEX oidc_models_expires_at_idx ON oidc_models (expires_at) WHERE expires_at IS NOT NULL;

-- Relying parties registered by a platform admin (POST /admin/oauth-clients, keyhold clients).
-- The secret is stored as its SHA-256 (a 256-bit random value needs no slow hash); after a
-- rotation the previous one is accepted until previous_secret_expires_at. metadata holds the
-- OpenID client metadata oidc-provider reads (redirect_uris, grant_types, …).
CREATE TABLE oauth_clients (
  client_id                   text PRIMARY KEY,
  name                        text NOT NULL,
  account_id                  uuid REFERENCES accounts (id) ON DELETE CASCADE,
  secret_hash                 text,
  previous_secret_hash        text,
  previous_secret_expires_at  timestamptz,
  first_party                 boolean NOT NULL DEFAULT false,
  require_mfa                 boolean NOT NULL DEFAULT false,
  metadata                    jsonb NOT NULL,
  created_at                  timestamptz NOT NULL DEFAULT now(),
  updated_at                  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX oauth_clients_account_id_idx ON oauth_clients (account_id) WHERE account_id IS NOT NULL;
