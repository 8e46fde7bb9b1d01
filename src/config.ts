// The environment is read here and only here, through the one configuration table
// (config-table.ts: name, default, parser, doc), validated once at start, and frozen. What is
// below combines rows into the fields that depend on more than one variable.
import { ConfigError } from './config-parsers.js';
import { CONFIG_TABLE, type ConfigValues, type Setting, type TableFields } from './config-table.js';
import { isValidEmail, normalizeEmail } from './lib/email-address.js';

export { ConfigError } from './config-parsers.js';

export interface OidcProviderConfig {
  /** Name in the URL: /auth/{name}/authorize. */
  name: string;
  issuer: string;
  clientId: string;
  clientSecret?: string;
  scopes: string[];
  /**
   * Whether the provider's `email_verified` is believed: only then may a sign-in link an
   * existing user by email or start a new user verified. Google: yes. Microsoft: never, since
   * an Entra ID tenant admin can put any address in `email` ("nOAuth"); no claim turns it on.
   * Generic providers: only with OIDC_<NAME>_TRUST_EMAIL=true.
   */
  trustEmail: boolean;
}

/** The table's own rows (config-table.ts) are fields as they are; these are built from several rows. */
export interface Config extends TableFields {
  oauthProviders: OidcProviderConfig[];
  bootstrapAdmin?: { email: string; password: string };
  argon2: { memoryKib: number; iterations: number; parallelism: number };
  /** PUBLIC_URL, or http://HOST:PORT. */
  publicUrl: string;
  /** FRONTEND_URL; without it, the hosted pages when they are on, else http://localhost:3000. */
  frontendUrl: string;
  /** Server-rendered pages under /ui/ (modules/hosted-ui). */
  hostedUi: HostedUiConfig;
  /** WebAuthn relying party (passkeys): RP ID (a registrable domain), display name, and the
   *  origins whose ceremonies are accepted. Defaults from FRONTEND_URL. */
  webauthn: { rpId: string; rpName: string; origins: string[] };
  /** How tokens are signed (modules/keys). Unset: ES256, or HS256 when JWT_SECRET is set (0.1's mode). */
  jwtAlgorithm: 'ES256' | 'EdDSA' | 'RS256' | 'HS256';
}

export interface HostedUiConfig {
  enabled: boolean;
  brandName: string;
  /** A CSS hex colour (#rgb or #rrggbb), checked at start. */
  primaryColor: string;
  logoUrl?: string;
}

type Env = Record<string, string | undefined>;

/** The variable's trimmed text; blank counts as unset. */
function rawValue(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

/** One row read from the environment (`as`: the concrete name of an OIDC_<NAME>_* row). */
function readSetting<T>(env: Env, row: Setting<T>, as: string = row.env): T {
  const value = rawValue(env, as);
  return value === undefined ? row.fallback : row.parser.parse(value, as);
}

/** Every row of the table, by its name. */
export function readConfigValues(env: Env): ConfigValues {
  const values: Record<string, unknown> = {};
  for (const [name, row] of Object.entries(CONFIG_TABLE) as Array<[string, Setting<unknown>]>) {
    // The OIDC_<NAME>_* rows are read per provider below.
    if (!row.env.includes('<NAME>')) values[name] = readSetting(env, row);
  }
  return values as ConfigValues;
}

export function loadConfig(env: Env = process.env): Readonly<Config> {
  const v = readConfigValues(env);
  const fields = Object.fromEntries(
    Object.entries(CONFIG_TABLE)
      .filter(([, row]) => !(row as Setting<unknown>).input)
      .map(([name]) => [name, v[name as keyof ConfigValues]]),
  ) as unknown as TableFields;
  const hostedUi: HostedUiConfig = { enabled: v.hostedUiEnabled, brandName: v.uiBrandName, primaryColor: v.uiPrimaryColor, logoUrl: v.uiLogoUrl };
  // The grace period counts from SIGTERM, so it must leave time for the requests after the drain.
  if (v.shutdownDrainSeconds > 0 && v.shutdownDrainSeconds >= v.shutdownGraceSeconds) {
    throw new ConfigError('SHUTDOWN_DRAIN_SECONDS', 'must be less than SHUTDOWN_GRACE_SECONDS (the grace period includes the drain)');
  }
  const publicUrl = v.publicUrl ?? `http://${v.host}:${v.port}`;
  // Without FRONTEND_URL, the emails' links open the hosted pages when they are on.
  const frontendUrl = v.frontendUrl ?? (hostedUi.enabled ? `${publicUrl}/ui` : 'http://localhost:3000');
  const oauthProviders = readOauthProviders(env, v);
  // The pages' own OAuth callbacks (modules/hosted-ui) are allowed redirect URIs.
  const oauthRedirectUris = [...v.oauthRedirectUris];
  if (hostedUi.enabled) for (const provider of oauthProviders) oauthRedirectUris.push(pagesOAuthCallbackUrl(publicUrl, provider.name));
  const config: Config = {
    ...fields,
    oauthRedirectUris,
    oauthProviders,
    bootstrapAdmin: readBootstrapAdmin(v),
    argon2: { memoryKib: v.argon2MemoryKib, iterations: v.argon2Iterations, parallelism: v.argon2Parallelism },
    publicUrl,
    frontendUrl,
    hostedUi,
    // Passkeys' relying party defaults from where the front end (or the hosted pages) lives.
    webauthn: readWebauthn(v, frontendUrl, hostedUi.enabled ? new URL(publicUrl).origin : undefined),
    // HS256 stays the default when JWT_SECRET is set, so a 0.1 deployment keeps signing exactly as before.
    jwtAlgorithm: v.jwtAlgorithm ?? (v.jwtSecret === undefined ? 'ES256' : 'HS256'),
  };
  return Object.freeze(config);
}

/** Where a provider sends the browser back to after a hosted page's sign-in (modules/hosted-ui). */
export const pagesOAuthCallbackUrl = (publicUrl: string, provider: string): string => `${publicUrl}/ui/oauth/${provider}/callback`;

/** `pagesOrigin`: the hosted pages' origin, accepted too when it is on the RP ID (and WEBAUTHN_ORIGINS is unset). */
function readWebauthn(v: ConfigValues, frontendUrl: string, pagesOrigin?: string): Config['webauthn'] {
  const rpId = (v.webauthnRpId ?? new URL(frontendUrl).hostname).toLowerCase();
  const onRpId = (origin: string) => {
    const host = new URL(origin).hostname;
    return host === rpId || host.endsWith(`.${rpId}`);
  };
  const listed = v.webauthnOrigins;
  const origins = listed.length > 0 ? listed : [...new Set([new URL(frontendUrl).origin, ...(pagesOrigin && onRpId(pagesOrigin) ? [pagesOrigin] : [])])];
  for (const origin of origins) {
    // The browser refuses an RP ID that is not the origin's host or a parent domain of it.
    if (!onRpId(origin)) {
      throw new ConfigError('WEBAUTHN_ORIGINS', `${origin} is not on WEBAUTHN_RP_ID ${rpId} or a subdomain of it`);
    }
  }
  return { rpId, rpName: v.webauthnRpName, origins };
}

function readOauthProviders(env: Env, v: ConfigValues): OidcProviderConfig[] {
  const providers: OidcProviderConfig[] = [];
  const standard = ['openid', 'email', 'profile'];
  if (v.googleClientId) {
    providers.push({ name: 'google', issuer: v.googleIssuer, clientId: v.googleClientId, clientSecret: v.googleClientSecret, scopes: standard, trustEmail: true });
  }
  if (v.microsoftClientId) {
    providers.push({
      name: 'microsoft',
      issuer: v.microsoftIssuer ?? `https://login.microsoftonline.com/${v.microsoftTenant}/v2.0`,
      clientId: v.microsoftClientId,
      clientSecret: v.microsoftClientSecret,
      scopes: standard,
      trustEmail: false,
    });
  }
  // Generic OpenID Connect providers: OIDC_PROVIDERS=okta,keycloak and, for each name, the
  // table's OIDC_<NAME>_* rows (trust in email defaults to false: see OidcProviderConfig.trustEmail).
  for (const name of v.oidcProviders) {
    if (!/^[a-z][a-z0-9-]{0,31}$/.test(name) || name === 'google' || name === 'microsoft') {
      throw new ConfigError('OIDC_PROVIDERS', `has an invalid provider name "${name}" (lower-case letters, digits, -)`);
    }
    const key = name.toUpperCase().replace(/-/g, '_');
    const read = <T>(row: Setting<T>): T => readSetting(env, row, row.env.replace('<NAME>', key));
    const issuer = read(CONFIG_TABLE.oidcIssuer);
    const clientId = read(CONFIG_TABLE.oidcClientId);
    if (!issuer) throw new ConfigError(`OIDC_${key}_ISSUER`, `is required for OIDC provider "${name}"`);
    if (!clientId) throw new ConfigError(`OIDC_${key}_CLIENT_ID`, `is required for OIDC provider "${name}"`);
    const scopes = read(CONFIG_TABLE.oidcScopes);
    providers.push({
      name,
      issuer,
      clientId,
      clientSecret: read(CONFIG_TABLE.oidcClientSecret),
      scopes: scopes.length > 0 ? scopes : standard,
      trustEmail: read(CONFIG_TABLE.oidcTrustEmail),
    });
  }
  return providers;
}

function readBootstrapAdmin(v: ConfigValues): Config['bootstrapAdmin'] {
  const email = v.bootstrapAdminEmail;
  const password = v.bootstrapAdminPassword;
  if (!email && !password) return undefined;
  if (!email) throw new ConfigError('BOOTSTRAP_ADMIN_EMAIL', 'is required when BOOTSTRAP_ADMIN_PASSWORD is set');
  if (!password) throw new ConfigError('BOOTSTRAP_ADMIN_PASSWORD', 'is required when BOOTSTRAP_ADMIN_EMAIL is set');
  if (!isValidEmail(email)) throw new ConfigError('BOOTSTRAP_ADMIN_EMAIL', 'must be an email address');
  if ([...password].length < 8 || [...password].length > 128) {
    throw new ConfigError('BOOTSTRAP_ADMIN_PASSWORD', 'must be 8 to 128 characters');
  }
  return { email: normalizeEmail(email), password };
}
