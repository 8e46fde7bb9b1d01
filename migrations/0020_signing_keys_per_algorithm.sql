-- One current and one next key per algorithm, not per key set: with the OpenID Provider on, the
-- ring keeps an RS256 key beside JWT_ALGORITHM's for clients that register
-- id_token_signed_response_alg RS256 (docs/oidc-provider.md), rotated with the rest.
-- Which algorithm first-party tokens are signed with stays JWT_ALGORITHM's (modules/keys).
DROP INDEX signing_keys_one_current_idx;
DROP INDEX signing_keys_one_next_idx;
CREATE UNIQUE INDEX signing_keys_one_current_idx ON signing_keys (alg) WHERE state = 'current';
CREATE UNIQUE INDEX signing_keys_one_next_idx ON signing_keys (alg) WHERE state = 'next';
