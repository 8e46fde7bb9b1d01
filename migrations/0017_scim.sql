-- SCIM 2.0 provisioning, per account (src/modules/scim).
--
-- A token belongs to one account and is stored as the SHA-256 of its high-entropy value: the
-- lookup is by that hash (an index equality, nothing to compare in application code).
CREATE TABLE scim_tokens (
  id            uuid PRIMARY KEY,
  account_id    uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  token_hash    text NOT NULL UNIQUE,
  description   text,
  created_by    uuid REFERENCES users (id) ON DELETE SET NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_used_at  timestamptz
);
CREATE INDEX scim_tokens_account_id_idx ON scim_tokens (account_id, created_at);

-- A user as the directory knows them: the Keyhold user (email, name, phone, title, timezone,
-- active, role) is the user row; what SCIM adds (userName, externalId, the attributes as sent,
-- the enterprise extension) is here. (user_id, account_id) follows the user: when a user
-- leaves the account (removed, or deleted), the row follows or goes, so a token of the account
-- never sees them again (every query also requires users.account_id to be the token's).
CREATE UNIQUE INDEX users_id_account_id_key ON users (id, account_id);
CREATE TABLE scim_users (
  user_id       uuid PRIMARY KEY,
  account_id    uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  user_name     text NOT NULL,
  external_id   text,
  display_name  text,
  attributes    jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (user_id, account_id) REFERENCES users (id, account_id) ON DELETE CASCADE ON UPDATE CASCADE
);
-- userName is unique within the account, case-insensitively; `userName eq` is this index.
CREATE UNIQUE INDEX scim_users_user_name_key ON scim_users (account_id, lower(user_name));
CREATE INDEX scim_users_external_id_idx ON scim_users (account_id, external_id);
-- Listing order (created_at, user_id) and `meta.lastModified` filters.
CREATE INDEX scim_users_created_idx ON scim_users (account_id, created_at, user_id);
CREATE INDEX scim_users_updated_idx ON scim_users (account_id, updated_at);

CREATE TABLE scim_groups (
  id            uuid PRIMARY KEY,
  account_id    uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  display_name  text NOT NULL,
  external_id   text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
-- Group-to-role mapping is by displayName, so it is unique within the account.
CREATE UNIQUE INDEX scim_groups_display_name_key ON scim_groups (account_id, lower(display_name));
CREATE INDEX scim_groups_created_idx ON scim_groups (account_id, created_at, id);

CREATE TABLE scim_group_members (
  group_id  uuid NOT NULL REFERENCES scim_groups (id) ON DELETE CASCADE,
  user_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  PRIMARY KEY (group_id, user_id)
);
CREATE INDEX scim_group_members_user_id_idx ON scim_group_members (user_id);

-- PUT /accounts/me/scim-settings: {"<group displayName>": "admin" | "member"}.
CREATE TABLE scim_settings (
  account_id   uuid PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
  group_roles  jsonb NOT NULL DEFAULT '{}'::jsonb,
  updated_at   timestamptz NOT NULL DEFAULT now()
);
