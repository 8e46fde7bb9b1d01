// A connection's settings as stored: `config` (public, jsonb) and `secrets` (sealed by the
// secret box, purpose `sso-connection:<id>`), and the SP values its IdP admin copies.
import type { AppContext } from '../../context.js';
import type { SsoConnectionRow } from '../../db/schema.js';

export interface SamlConfig {
  idp_entity_id: string;
  idp_sso_url: string;
  /** Base64 DER signing certificates of the IdP. */
  idp_certificates: string[];
  allow_idp_initiated: boolean;
  default_redirect_uri: string | null;
  /** The SP's own certificate (PEM), when the account gave Keyhold a key pair for encrypted assertions. */
  sp_certificate: string | null;
}

export interface OidcConfig {
  issuer: string;
  client_id: string;
  scopes: string[];
}

export interface SamlSecrets {
  sp_private_key?: string;
}
export interface OidcSecrets {
  client_secret: string;
}

export const sealPurpose = (connectionId: string): string => `sso-connection:${connectionId}`;

export function openSecrets<T>(ctx: Pick<AppContext, 'secrets'>, row: SsoConnectionRow): T {
  return JSON.parse(ctx.secrets.open(row.secrets, sealPurpose(row.id))) as T;
}

export const samlConfig = (row: SsoConnectionRow): SamlConfig => row.config as SamlConfig;
export const oidcConfig = (row: SsoConnectionRow): OidcConfig => row.config as OidcConfig;

type UrlDeps = Pick<AppContext['config'], 'publicUrl' | 'apiPrefix'>;

const apiBase = (config: UrlDeps): string => `${config.publicUrl}${config.apiPrefix}`;

/** The SP's entity ID is its metadata URL: unique per connection, and where the metadata is. */
export const samlMetadataUrl = (config: UrlDeps, id: string): string => `${apiBase(config)}/auth/sso/saml/${id}/metadata`;
export const samlAcsUrl = (config: UrlDeps, id: string): string => `${apiBase(config)}/auth/sso/saml/${id}/acs`;
export const oidcRedirectUri = (config: UrlDeps): string => `${apiBase(config)}/auth/sso/oidc/callback`;
/** Where identity providers' answers land for the hosted pages (the redirect_uri of their flows). */
export const pagesSsoCallbackUrl = (config: Pick<UrlDeps, 'publicUrl'>): string => `${config.publicUrl}/ui/sso/callback`;

export type SpValues = { redirect_uri: string } | { entity_id: string; acs_url: string; metadata_url: string };

export function spValues(config: UrlDeps, row: SsoConnectionRow): SpValues {
  if (row.type === 'oidc') return { redirect_uri: oidcRedirectUri(config) };
  const metadataUrl = samlMetadataUrl(config, row.id);
  return { entity_id: metadataUrl, acs_url: samlAcsUrl(config, row.id), metadata_url: metadataUrl };
}
