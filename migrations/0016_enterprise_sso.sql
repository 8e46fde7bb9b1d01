-- Enterprise single sign-on per account (modules/domains, modules/sso).
--
-- account_domains: the domains an account claims, proven by a DNS TXT record. A domain may be
-- claimed (pending) by several accounts, but verified by one at most: the partial unique index
-- is what makes "one account per verified domain" hold under concurrent verifications.
CREATE TABLE account_domains (
  id                   uuid PRIMARY KEY,
  account_id           uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  -- Lower-case, no trailing dot (modules/domains/domain-name.ts).
  domain               text NOT NULL,
  -- The random part of the TXT value `keyhold-verification=<token>`; not a secret (it is
  -- published in DNS), only unguessable so nobody else's record can prove this claim.
  verification_token   text NOT NULL,
  verified_at          timestamptz,
  created_at           timestamptz NOT NULL DEFAULT now(),
  UNIQUE (account_id, domain)
);
CREATE UNIQUE INDEX account_domains_verified_domain_idx ON account_domains (domain) WHERE verified_at IS NOT NULL;

-- An account's identity providers. `config` holds what is not secret (issuer, client id, the
-- IdP's entity id, SSO URL and certificates, flags); `secrets` is the secret box's sealed JSON
-- (an OIDC client secret; the SAML SP's private keys), never returned by the API.
CREATE TABLE sso_connections (
  id            uuid PRIMARY KEY,
  account_id    uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  type          text NOT NULL CHECK (type IN ('oidc', 'saml')),
  name          text NOT NULL,
  enabled       boolean NOT NULL DEFAULT true,
  config        jsonb NOT NULL,
  secrets       text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sso_connections_account_idx ON sso_connections (account_id, created_at);

CREATE TABLE sso_settings (
  account_id    uuid PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
  enforced      boolean NOT NULL DEFAULT false,
  auto_join     boolean NOT NULL DEFAULT false,
  default_role  text NOT NULL DEFAULT 'member' CHECK (default_role IN ('member', 'admin')),
  updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Who is who: an identity is (connection, subject), never an email alone.
CREATE TABLE sso_identities (
  connection_id  uuid NOT NULL REFERENCES sso_connections (id) ON DELETE CASCADE,
  subject        text NOT NULL,
  user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  email          text NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (connection_id, subject)
);
CREATE INDEX sso_identities_user_idx ON sso_identities (user_id);

-- A sign-in under way (single use, 10 minutes): the SAML AuthnRequest's ID (node-saml's
-- InResponseTo cache lives here, so every instance sees it) or the OIDC state, PKCE verifier
-- and nonce, with the front end's redirect_uri and state.
CREATE TABLE sso_flows (
  id             text PRIMARY KEY,
  connection_id  uuid NOT NULL REFERENCES sso_connections (id) ON DELETE CASCADE,
  -- The SAML request ID (InResponseTo), or the hash of the OIDC state.
  request_key    text NOT NULL UNIQUE,
  redirect_uri   text NOT NULL,
  client_state   text NOT NULL,
  code_verifier  text,
  nonce          text,
  expires_at     timestamptz NOT NULL,
  used_at        timestamptz,
  created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sso_flows_spent_at_idx ON sso_flows ((LEAST(used_at, expires_at)));

-- The single-use code handed to the front end (60 s), redeemed by POST /auth/sso/callback.
CREATE TABLE sso_codes (
  code_hash      text PRIMARY KEY,
  client_state   text NOT NULL,
  user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  connection_id  uuid NOT NULL REFERENCES sso_connections (id) ON DELETE CASCADE,
  multi_factor   boolean NOT NULL,
  expires_at     timestamptz NOT NULL,
  used_at        timestamptz,
  created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sso_codes_spent_at_idx ON sso_codes ((LEAST(used_at, expires_at)));

-- Replay store: one use per SAML assertion ID, kept until the assertion could no longer be
-- accepted anyway (its NotOnOrAfter plus the allowed skew), then purged by retention.
CREATE TABLE sso_assertions (
  connection_id  uuid NOT NULL REFERENCES sso_connections (id) ON DELETE CASCADE,
  assertion_id   text NOT NULL,
  expires_at     timestamptz NOT NULL,
  used_at        timestamptz NOT NULL,
  PRIMARY KEY (connection_id, assertion_id)
);
CREATE INDEX sso_assertions_spent_at_idx ON sso_assertions ((LEAST(used_at, expires_at)));
