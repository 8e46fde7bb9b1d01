// Request and response shapes of /admin/oauth-clients and /auth/me/apps (the OpenAPI document is built from these).
import { Type, type Static } from '@sinclair/typebox';
import { DateTime, FreeText, Nullable, Uuid } from '../../http/schema-types.js';
import { AUTH_METHODS, GRANT_TYPES, ID_TOKEN_ALGS, type ClientRegistration } from './client-metadata.js';
import type { OAuthClientRow } from './clients.repo.js';

const Uri = Type.String({ minLength: 1, maxLength: 2048 });
const Uris = Type.Array(Uri, { maxItems: 50 });
const Jwks = Type.Object({ keys: Type.Array(Type.Object({}, { additionalProperties: true }), { minItems: 1, maxItems: 20 }) }, { description: 'The client\'s public keys (private_key_jwt)' });

const RegistrationFields = {
  redirect_uris: Uris,
  post_logout_redirect_uris: Uris,
  grant_types: Type.Array(Type.Union(GRANT_TYPES.map((grant) => Type.Literal(grant))), { minItems: 1, maxItems: 4, uniqueItems: true }),
  token_endpoint_auth_method: Type.Union(AUTH_METHODS.map((method) => Type.Literal(method))),
  scopes: Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { maxItems: 50, uniqueItems: true }),
  resources: Type.Array(Uri, { maxItems: 20, uniqueItems: true, description: 'RFC 8707 resource indicators this client may ask tokens for' }),
  first_party: Type.Boolean({ description: 'The product\'s own app: no consent page' }),
  require_mfa: Type.Boolean({ description: 'Users must have passed a second factor (aal2)' }),
  backchannel_logout_uri: Nullable(Uri),
  account_id: Nullable(Uuid),
  logo_uri: Nullable(Uri),
  dpop_bound: Type.Boolean({ description: 'Access tokens must be DPoP-bound (RFC 9449)' }),
  id_token_signed_response_alg: Type.Unsafe<(typeof ID_TOKEN_ALGS)[number] | null>({ type: ['string', 'null'], enum: [...ID_TOKEN_ALGS, null] }),
  jwks: Nullable(Jwks),
  jwks_uri: Nullable(Uri),
};

export const CreateClientBody = Type.Object({
  name: FreeText({ minLength: 1, maxLength: 200 }),
  redirect_uris: RegistrationFields.redirect_uris,
  grant_types: RegistrationFields.grant_types,
  token_endpoint_auth_method: RegistrationFields.token_endpoint_auth_method,
  scopes: RegistrationFields.scopes,
  post_logout_redirect_uris: Type.Optional(RegistrationFields.post_logout_redirect_uris),
  resources: Type.Optional(RegistrationFields.resources),
  first_party: Type.Optional(RegistrationFields.first_party),
  require_mfa: Type.Optional(RegistrationFields.require_mfa),
  backchannel_logout_uri: Type.Optional(RegistrationFields.backchannel_logout_uri),
  account_id: Type.Optional(RegistrationFields.account_id),
  logo_uri: Type.Optional(RegistrationFields.logo_uri),
  dpop_bound: Type.Optional(RegistrationFields.dpop_bound),
  id_token_signed_response_alg: Type.Optional(RegistrationFields.id_token_signed_response_alg),
  jwks: Type.Optional(RegistrationFields.jwks),
  jwks_uri: Type.Optional(RegistrationFields.jwks_uri),
});
export type CreateClientBody = Static<typeof CreateClientBody>;

/** Every field may change except the authentication method (a new client is the clearer path). */
export const UpdateClientBody = Type.Partial(Type.Omit(CreateClientBody, ['token_endpoint_auth_method']));
export type UpdateClientBody = Static<typeof UpdateClientBody>;

export const ClientParams = Type.Object({ client_id: Type.String({ minLength: 1, maxLength: 100 }) });

export const ClientResponse = Type.Object({
  client_id: Type.String(),
  name: Type.String(),
  ...RegistrationFields,
  created_at: DateTime,
  updated_at: DateTime,
});
export type ClientResponse = Static<typeof ClientResponse>;

/** Only the create and rotate-secret replies carry the secret (confidential clients). */
export const ClientWithSecretResponse = Type.Composite([ClientResponse, Type.Object({ client_secret: Type.Optional(Type.String()) })]);

export function toClientResponse(row: OAuthClientRow): ClientResponse {
  const reg = row.metadata as unknown as ClientRegistration;
  return {
    client_id: row.client_id,
    name: row.name,
    redirect_uris: reg.redirect_uris,
    post_logout_redirect_uris: reg.post_logout_redirect_uris,
    grant_types: reg.grant_types,
    token_endpoint_auth_method: reg.token_endpoint_auth_method,
    scopes: reg.scopes,
    resources: reg.resources,
    first_party: row.first_party,
    require_mfa: row.require_mfa,
    backchannel_logout_uri: reg.backchannel_logout_uri,
    account_id: row.account_id,
    logo_uri: reg.logo_uri,
    dpop_bound: reg.dpop_bound,
    id_token_signed_response_alg: reg.id_token_signed_response_alg,
    jwks: reg.jwks,
    jwks_uri: reg.jwks_uri,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

export const AppResponse = Type.Object({
  client_id: Type.String(),
  name: Type.String(),
  logo_uri: Nullable(Type.String()),
  scopes: Type.Array(Type.String()),
  granted_at: DateTime,
  last_used_at: DateTime,
});
export type AppResponse = Static<typeof AppResponse>;
export const AppParams = ClientParams;
