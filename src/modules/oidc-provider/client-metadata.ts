// What a client registration is (as stored in oauth_clients.metadata), the rules it must meet,
// and how it becomes the metadata oidc-provider reads. Plain functions, no I/O.
import { validationError } from '../../lib/errors.js';

export const GRANT_TYPES = ['authorization_code', 'refresh_token', 'client_credentials', 'urn:ietf:params:oauth:grant-type:device_code'] as const;
export const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'] as const;
export const ID_TOKEN_ALGS = ['ES256', 'EdDSA', 'RS256'] as const;

export type GrantType = (typeof GRANT_TYPES)[number];
export type AuthMethod = (typeof AUTH_METHODS)[number];

export interface ClientRegistration {
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  grant_types: GrantType[];
  token_endpoint_auth_method: AuthMethod;
  scopes: string[];
  resources: string[];
  backchannel_logout_uri: string | null;
  logo_uri: string | null;
  dpop_bound: boolean;
  id_token_signed_response_alg: (typeof ID_TOKEN_ALGS)[number] | null;
  jwks: { keys: Array<Record<string, unknown>> } | null;
  jwks_uri: string | null;
}

/** Whether a client authenticates with a secret Keyhold issues. */
export const usesSecret = (method: AuthMethod): boolean => method === 'client_secret_basic' || method === 'client_secret_post';

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]']);
/** Schemes a private-use redirect may never take: they run or read something in the browser. */
const FORBIDDEN_SCHEMES = new Set(['javascript:', 'data:', 'file:', 'blob:', 'about:', 'vbscript:', 'ws:', 'wss:', 'ftp:']);

export type RedirectKind = 'https' | 'loopback' | 'private_use';

/**
 * RFC 8252 and the contract: https://, loopback http://127.0.0.1 or http://[::1] (any port at
 * use, §7.3), or a private-use scheme in reverse-domain form (§7.1) for public clients only.
 * Nothing else, and never a fragment or credentials. Returns the kind, or a reason.
 */
export function redirectKind(uri: string, publicClient: boolean): RedirectKind | string {
  if (!URL.canParse(uri)) return 'is not an absolute URI';
  const url = new URL(uri);
  if (url.hash || uri.includes('#')) return 'must not have a fragment';
  if (url.username || url.password) return 'must not carry credentials';
  if (url.protocol === 'https:') return url.hostname ? 'https' : 'has no host';
  if (url.protocol === 'http:') return LOOPBACK_HOSTS.has(url.hostname) ? 'loopback' : 'http:// is allowed only for the loopback addresses 127.0.0.1 and [::1]';
  if (FORBIDDEN_SCHEMES.has(url.protocol)) return `the scheme ${url.protocol} is not allowed`;
  if (!/^[a-z][a-z0-9+-]*(\.[a-z0-9+-]+)+:$/.test(url.protocol)) return 'a private-use scheme must be in reverse-domain form, such as com.example.app:';
  if (!publicClient) return 'a private-use scheme is allowed only for public clients (token_endpoint_auth_method none)';
  return 'private_use';
}

/** Refuses a registration that breaks a rule (422 with the field named). */
export function checkRegistration(registration: ClientRegistration): void {
  const method = registration.token_endpoint_auth_method;
  const publicClient = method === 'none';
  const grants = new Set(registration.grant_types);
  if (grants.size === 0) throw validationError(['body', 'grant_types'], 'At least one grant type is required', 'grant_types_empty');
  const lists = [['redirect_uris', registration.redirect_uris], ['post_logout_redirect_uris', registration.post_logout_redirect_uris]] as const;
  for (const [field, uris] of lists) {
    uris.forEach((uri, index) => {
      const kind = redirectKind(uri, publicClient);
      if (!['https', 'loopback', 'private_use'].includes(kind)) throw validationError(['body', field, index], `Redirect URI ${kind}`, 'redirect_uri_not_allowed');
    });
  }
  if (grants.has('authorization_code') && registration.redirect_uris.length === 0) {
    throw validationError(['body', 'redirect_uris'], 'authorization_code needs at least one redirect URI', 'redirect_uris_missing');
  }
  if (publicClient && grants.has('client_credentials')) {
    throw validationError(['body', 'grant_types'], 'client_credentials needs a confidential client (not token_endpoint_auth_method none)', 'grant_type_not_allowed');
  }
  if (grants.has('refresh_token') && !grants.has('authorization_code') && !grants.has('urn:ietf:params:oauth:grant-type:device_code')) {
    throw validationError(['body', 'grant_types'], 'refresh_token comes with authorization_code or the device code grant', 'grant_type_not_allowed');
  }
  if (method === 'private_key_jwt' && !registration.jwks && !registration.jwks_uri) {
    throw validationError(['body', 'jwks'], 'private_key_jwt needs jwks or jwks_uri', 'jwks_missing');
  }
  if (registration.jwks && registration.jwks_uri) throw validationError(['body', 'jwks_uri'], 'Give jwks or jwks_uri, not both', 'jwks_conflict');
  registration.resources.forEach((resource, index) => {
    if (!URL.canParse(resource) || resource.includes('#')) throw validationError(['body', 'resources', index], 'A resource is an absolute URI without a fragment (RFC 8707)', 'resource_invalid');
  });
  registration.scopes.forEach((scope, index) => {
    if (!/^[\x21\x23-\x5b\x5d-\x7e]+$/.test(scope)) throw validationError(['body', 'scopes', index], 'A scope is one word of visible ASCII (RFC 6749 §3.3)', 'scope_invalid');
  });
}

export interface ClientRowLike {
  client_id: string;
  name: string;
  account_id: string | null;
  secret_hash: string | null;
  previous_secret_hash: string | null;
  previous_secret_expires_at: Date | null;
  first_party: boolean;
  require_mfa: boolean;
  metadata: Record<string, unknown>;
}

/** Keyhold's own client properties, registered with oidc-provider as extra metadata. */
/** The scopes the provider itself serves (claims by scope, and offline_access). */
export const OIDC_SCOPES: readonly string[] = ['openid', 'offline_access', 'profile', 'email', 'account'];

export const EXTRA_METADATA = [
  'keyhold_api_scopes',
  'keyhold_resources',
  'keyhold_account_id',
  'keyhold_first_party',
  'keyhold_require_mfa',
  'keyhold_previous_secret_hash',
  'keyhold_previous_secret_until',
] as const;

/**
 * The metadata oidc-provider validates and serves the client from. `client_secret` is the
 * secret's SHA-256, never the secret: the provider's secret comparison is replaced (see
 * provider.ts, compareHashedSecret), and no HMAC algorithm (which would need the plain secret)
 * is enabled.
 */
export function providerMetadata(row: ClientRowLike): Record<string, unknown> {
  const reg = row.metadata as unknown as ClientRegistration;
  const oidcScopes = reg.scopes.filter((scope) => OIDC_SCOPES.includes(scope));
  const native = reg.redirect_uris.some((uri) => redirectKind(uri, true) !== 'https');
  const metadata: Record<string, unknown> = {
    client_id: row.client_id,
    client_name: row.name,
    redirect_uris: reg.redirect_uris,
    post_logout_redirect_uris: reg.post_logout_redirect_uris,
    grant_types: reg.grant_types,
    response_types: reg.grant_types.includes('authorization_code') ? ['code'] : [],
    token_endpoint_auth_method: reg.token_endpoint_auth_method,
    // The provider knows the OpenID scopes only; the others are scopes of the client's APIs
    // (resources), given to the resource servers (provider.ts's getResourceServerInfo).
    ...(oidcScopes.length ? { scope: oidcScopes.join(' ') } : {}),
    keyhold_api_scopes: reg.scopes.filter((scope) => !OIDC_SCOPES.includes(scope)),
    application_type: native ? 'native' : 'web',
    dpop_bound_access_tokens: reg.dpop_bound,
    keyhold_resources: reg.resources,
    keyhold_account_id: row.account_id,
    keyhold_first_party: row.first_party,
    keyhold_require_mfa: row.require_mfa,
  };
  if (usesSecret(reg.token_endpoint_auth_method) && row.secret_hash) {
    metadata.client_secret = row.secret_hash;
    if (row.previous_secret_hash && row.previous_secret_expires_at) {
      metadata.keyhold_previous_secret_hash = row.previous_secret_hash;
      metadata.keyhold_previous_secret_until = Math.floor(row.previous_secret_expires_at.getTime() / 1000);
    }
  }
  if (reg.id_token_signed_response_alg) metadata.id_token_signed_response_alg = reg.id_token_signed_response_alg;
  if (reg.backchannel_logout_uri) {
    metadata.backchannel_logout_uri = reg.backchannel_logout_uri;
    metadata.backchannel_logout_session_required = true;
  }
  if (reg.logo_uri) metadata.logo_uri = reg.logo_uri;
  if (reg.jwks) metadata.jwks = reg.jwks;
  if (reg.jwks_uri) metadata.jwks_uri = reg.jwks_uri;
  return metadata;
}
