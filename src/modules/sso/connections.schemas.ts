import { Type, type Static } from '@sinclair/typebox';
import type { AppContext } from '../../context.js';
import type { SsoConnectionRow } from '../../db/schema.js';
import { DateTime, FreeText, Nullable, Uuid } from '../../http/schema-types.js';
import { spValues, type OidcConfig, type SamlConfig } from './connection-config.js';

const Name = FreeText({ minLength: 1, maxLength: 100 });
const HttpsUrl = Type.String({ format: 'uri', maxLength: 2048, pattern: '^https?://' });
const Pem = Type.String({ minLength: 1, maxLength: 20_000 });
const MetadataXml = Type.String({ minLength: 1, maxLength: 500_000 });
const Scopes = Type.Array(Type.String({ minLength: 1, maxLength: 100, pattern: '^[\\x21\\x23-\\x5B\\x5D-\\x7E]+$' }), { maxItems: 20 });

export const OidcConnectionBody = Type.Object({
  type: Type.Literal('oidc'),
  name: Name,
  issuer: HttpsUrl,
  client_id: Type.String({ minLength: 1, maxLength: 500 }),
  client_secret: Type.String({ minLength: 1, maxLength: 2000 }),
  scopes: Type.Optional(Scopes),
}, { additionalProperties: false });

export const SamlConnectionBody = Type.Object({
  type: Type.Literal('saml'),
  name: Name,
  metadata_xml: Type.Optional(MetadataXml),
  metadata_url: Type.Optional(HttpsUrl),
  allow_idp_initiated: Type.Optional(Type.Boolean()),
  default_redirect_uri: Type.Optional(Nullable(Type.String({ maxLength: 2048 }))),
  /** For encrypted assertions: the SP key pair the IdP encrypts to (PEM). */
  sp_private_key: Type.Optional(Pem),
  sp_certificate: Type.Optional(Pem),
}, { additionalProperties: false });

export const CreateConnectionBody = Type.Union([OidcConnectionBody, SamlConnectionBody]);
export type CreateConnectionBody = Static<typeof CreateConnectionBody>;

export const UpdateConnectionBody = Type.Object({
  name: Type.Optional(Name),
  enabled: Type.Optional(Type.Boolean()),
  issuer: Type.Optional(HttpsUrl),
  client_id: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })),
  client_secret: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })),
  scopes: Type.Optional(Scopes),
  metadata_xml: Type.Optional(MetadataXml),
  metadata_url: Type.Optional(HttpsUrl),
  allow_idp_initiated: Type.Optional(Type.Boolean()),
  default_redirect_uri: Type.Optional(Nullable(Type.String({ maxLength: 2048 }))),
}, { additionalProperties: false });
export type UpdateConnectionBody = Static<typeof UpdateConnectionBody>;

export const ConnectionParams = Type.Object({ id: Uuid });

export const ConnectionResponse = Type.Object({
  id: Uuid,
  type: Type.Union([Type.Literal('oidc'), Type.Literal('saml')]),
  name: Type.String(),
  enabled: Type.Boolean(),
  created_at: DateTime,
  updated_at: DateTime,
  sp: Type.Object({
    redirect_uri: Type.Optional(Type.String()),
    entity_id: Type.Optional(Type.String()),
    acs_url: Type.Optional(Type.String()),
    metadata_url: Type.Optional(Type.String()),
  }),
  // OIDC
  issuer: Type.Optional(Type.String()),
  client_id: Type.Optional(Type.String()),
  scopes: Type.Optional(Type.Array(Type.String())),
  // SAML
  idp_entity_id: Type.Optional(Type.String()),
  idp_sso_url: Type.Optional(Type.String()),
  allow_idp_initiated: Type.Optional(Type.Boolean()),
  default_redirect_uri: Type.Optional(Nullable(Type.String())),
});
export type ConnectionResponse = Static<typeof ConnectionResponse>;

/** The public view: never a secret (client secret, SP private key). */
export function toConnectionResponse(config: AppContext['config'], row: SsoConnectionRow): ConnectionResponse {
  const base = {
    id: row.id,
    type: row.type,
    name: row.name,
    enabled: row.enabled,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    sp: spValues(config, row),
  };
  if (row.type === 'oidc') {
    const oidc = row.config as OidcConfig;
    return { ...base, issuer: oidc.issuer, client_id: oidc.client_id, scopes: oidc.scopes };
  }
  const saml = row.config as SamlConfig;
  return { ...base, idp_entity_id: saml.idp_entity_id, idp_sso_url: saml.idp_sso_url, allow_idp_initiated: saml.allow_idp_initiated, default_redirect_uri: saml.default_redirect_uri };
}

export const SsoSettingsBody = Type.Object({
  enforced: Type.Boolean(),
  auto_join: Type.Boolean(),
  default_role: Type.Union([Type.Literal('member'), Type.Literal('admin')]),
}, { additionalProperties: false });
export const SsoSettingsResponse = SsoSettingsBody;
