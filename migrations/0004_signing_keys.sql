-- Asymmetric signing keys (src/modules/keys). A key is `next` (published, not yet signing),
-- `current` (signs; at most one), `previous` (verifies until every token it signed has
-- expired, then deleted) or `revoked` (refused at once; kept, without its private half, so
-- `keyhold keys list` can show it). `alg` is pinned per key: a token is checked only with the
-- algorithm its key was made for.
CREATE TABLE signing_keys (
  kid           text PRIMARY KEY,
  alg           text NOT NULL CHECK (alg IN ('ES256', 'EdDSA', 'RS256')),
  state         text NOT NULL CHECK (state IN ('next', 'current', 'previous', 'revoked')),
  -- The public JWK as published (kty, kid, alg, use, crv/x/y or n/e): never a private part.
  public_jwk    jsonb NOT NULL,
  -- PKCS#8 PEM sealed by the secret box (purpose `signing-key:<kid>`); NULL once revoked.
  private_key   text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  activated_at  timestamptz,
  retired_at    timestamptz,
  revoked_at    timestamptz
);
CREATE UNIQUE INDEX signing_keys_one_current_idx ON signing_keys (state) WHERE state = 'current';
CREATE UNIQUE INDEX signing_keys_one_next_idx ON signing_keys (state) WHERE state = 'next';

-- One row whose version goes up with every change to signing_keys, in the same transaction:
-- every instance polls it (one primary-key read every few seconds) and reloads its key set
-- when it moves. Changes lock this row first, so two rotations never interleave.
-- legacy_hs256_until: on a database upgraded from 0.1, HS256 tokens of the old secret are
-- accepted until then (the moment of the upgrade plus the longest token lifetime).
CREATE TABLE signing_key_set (
  id                  boolean PRIMARY KEY DEFAULT true CHECK (id),
  version             bigint NOT NULL DEFAULT 0,
  legacy_hs256_until  timestamptz
);
INSERT INTO signing_key_set (id, version) VALUES (true, 0);
