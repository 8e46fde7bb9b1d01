-- Multi-factor authentication: TOTP (one row per user, with its replay guard), recovery codes,
-- sign-in challenges waiting for a second factor, passkeys and their WebAuthn challenges.
-- users.mfa_enabled is the flag every sign-in reads (UserResponse.mfa_enabled); it changes only
-- in the transaction that enables or disables TOTP.
ALTER TABLE users ADD COLUMN mfa_enabled boolean NOT NULL DEFAULT false;

-- The TOTP secret is sealed by the secret box (purpose totp:<user id>). enabled_at is null
-- between setup and enable. last_used_step is the replay guard: a code is accepted only for a
-- time step above it, set by a conditional UPDATE.
CREATE TABLE user_mfa (
  user_id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  totp_secret text NOT NULL,
  enabled_at timestamptz,
  last_used_step bigint,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE mfa_recovery_codes (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  code_hash text NOT NULL,
  used_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX mfa_recovery_codes_user_code_idx ON mfa_recovery_codes (user_id, code_hash);

-- A first factor passed by an MFA-enrolled user: the mfa_token (stored hashed) that the second
-- factor redeems. used_at is set when it is redeemed or killed (the 5th wrong code).
CREATE TABLE mfa_challenges (
  id uuid PRIMARY KEY,
  token_hash text NOT NULL UNIQUE,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  first_factor text NOT NULL,
  audit_action text NOT NULL,
  audit_details jsonb NOT NULL DEFAULT '{}',
  passkey_challenge text,
  failed_attempts integer NOT NULL DEFAULT 0,
  expires_at timestamptz NOT NULL,
  used_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mfa_challenges_spent_at_idx ON mfa_challenges ((LEAST(used_at, expires_at)));

CREATE TABLE passkeys (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  credential_id text NOT NULL UNIQUE,
  public_key text NOT NULL, -- COSE key, base64url
  counter bigint NOT NULL DEFAULT 0,
  transports text[] NOT NULL DEFAULT '{}',
  device_type text NOT NULL,
  backed_up boolean NOT NULL DEFAULT false,
  name text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz
);
CREATE INDEX passkeys_user_idx ON passkeys (user_id);

-- Registration (user_id set) and passwordless sign-in (user_id null) challenges. Second-factor
-- passkey challenges live on their mfa_challenges row.
CREATE TABLE webauthn_challenges (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  challenge text NOT NULL UNIQUE,
  purpose text NOT NULL,
  user_id uuid REFERENCES users (id) ON DELETE CASCADE,
  expires_at timestamptz NOT NULL,
  used_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webauthn_challenges_spent_at_idx ON webauthn_challenges ((LEAST(used_at, expires_at)));
