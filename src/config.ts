// The environment is read here and only here, validated once at start, and frozen.
// Every option is documented where its default lives (and in the README's table).
import { isValidEmail, normalizeEmail } from './lib/email-address.js';

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`Invalid configuration: ${variable} ${message}`);
    this.name = 'ConfigError';
  }
}

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

export interface Config {
  port: number;
  host: string;
  apiPrefix: string;
  /** Unset: the embedded database in dataDir. */
  databaseUrl?: string;
  dataDir: string;
  databasePoolSize: number;
  /** Hot statements as named prepared statements; off for PgBouncer's transaction mode before 1.21. */
  databasePreparedStatements: boolean;
  /** Unset: rate-limit counters live in process memory. */
  redisUrl?: string;
  /** Unset: a secret is generated once and kept in the database. */
  jwtSecret?: string;
  jwtIssuer: string;
  jwtAudience: string;
  accessTokenExpireMinutes: number;
  refreshTokenExpireDays: number;
  refreshReuseIntervalSeconds: number;
  frontendUrl: string;
  requireInviteCode: boolean;
  selfServeEnabled: boolean;
  trialDays: number;
  /** Unset: emails are written to the log and stay queued in the job queue. */
  smtpUrl?: string;
  emailFrom: string;
  rateLimitEnabled: boolean;
  /** Fastify's trustProxy: false, true, a hop count, or a list of addresses/CIDRs. */
  trustProxy: boolean | number | string[];
  corsOrigins: string[];
  oauthProviders: OidcProviderConfig[];
  oauthRedirectUris: string[];
  bootstrapAdmin?: { email: string; password: string };
  logLevel: string;
  argon2: { memoryKib: number; iterations: number; parallelism: number };
  shutdownGraceSeconds: number;
  /** How often the job worker looks for due jobs and periodic tasks (it is also woken after each commit). */
  outboxPollIntervalMs: number;
  /** Prometheus metrics at GET /metrics; off: no route, no per-request hook. */
  metricsEnabled: boolean;
  /** When set, GET /metrics needs `Authorization: Bearer <token>`. A secret: never logged or echoed. */
  metricsToken?: string;
  /** Audit events older than this many days are purged (modules/retention); 0 keeps them forever. */
  auditRetentionDays: number;
  /** AES-256-GCM key for secrets at rest (lib/secret-box.ts). Unset: a key file in DATA_DIR for
   *  the embedded database; none (secrets unencrypted, one warning per start) on DATABASE_URL. */
  secretsEncryptionKey?: Buffer;
  /** WEBHOOK_ALLOW_INSECURE_URLS: http:// and private addresses as webhook targets (development and tests only). */
  webhookAllowInsecureUrls: boolean;
  /** Where this service is reached from outside (links in emails, the pages' cookie). Default http://HOST:PORT. */
  publicUrl: string;
  /** Server-rendered pages under /ui/ (modules/hosted-ui). */
  hostedUi: HostedUiConfig;
  /** WebAuthn relying party (passkeys): RP ID (a registrable domain), display name, and the
   *  origins whose ceremonies are accepted. Defaults from FRONTEND_URL. */
  webauthn: { rpId: string; rpName: string; origins: string[] };
  /** How tokens are signed (modules/keys). Unset: ES256, or HS256 when JWT_SECRET is set (0.1's mode). */
  jwtAlgorithm: 'ES256' | 'EdDSA' | 'RS256' | 'HS256';
  /** The current signing key is rotated when this many days old (a periodic task); 0 = never. */
  jwtKeyRotationDays: number;
  /** Keyhold as an OpenID Provider under /oidc/ (modules/oidc-provider). */
  oidcProvider: { enabled: boolean };
}

export interface HostedUiConfig {
  enabled: boolean;
  brandName: string;
  /** A CSS hex colour (#rgb or #rrggbb), checked at start. */
  primaryColor: string;
  logoUrl?: string;
}

type Env = Record<string, string | undefined>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function loadConfig(env: Env = process.env): Readonly<Config> {
  const read = new EnvReader(env);
  const config: Config = {
    port: read.int('PORT', 8000, { min: 0, max: 65_535 }),
    host: read.string('HOST', '127.0.0.1'),
    apiPrefix: read.prefix('API_PREFIX', '/api/v1'),
    databaseUrl: read.url('DATABASE_URL', ['postgres:', 'postgresql:']),
    dataDir: read.string('DATA_DIR', './data'),
    databasePoolSize: read.int('DATABASE_POOL_SIZE', 10, { min: 1, max: 1000 }),
    databasePreparedStatements: read.bool('DATABASE_PREPARED_STATEMENTS', true),
    redisUrl: read.url('REDIS_URL', ['redis:', 'rediss:']),
    // RFC 7518 §3.2: an HS256 key has at least 256 bits.
    jwtSecret: read.secret('JWT_SECRET', 32),
    jwtIssuer: read.string('JWT_ISSUER', 'keyhold'),
    jwtAudience: read.string('JWT_AUDIENCE', 'keyhold'),
    accessTokenExpireMinutes: read.int('ACCESS_TOKEN_EXPIRE_MINUTES', 15, { min: 1, max: 24 * 60 }),
    refreshTokenExpireDays: read.int('REFRESH_TOKEN_EXPIRE_DAYS', 7, { min: 1, max: 365 }),
    refreshReuseIntervalSeconds: read.int('REFRESH_REUSE_INTERVAL_SECONDS', 10, { min: 0, max: 300 }),
    frontendUrl: (read.url('FRONTEND_URL', ['http:', 'https:']) ?? 'http://localhost:3000').replace(/\/+$/, ''),
    requireInviteCode: read.bool('REQUIRE_INVITE_CODE', false),
    selfServeEnabled: read.bool('SELF_SERVE_ENABLED', true),
    trialDays: read.int('TRIAL_DAYS', 14, { min: 0, max: 3650 }),
    smtpUrl: read.url('SMTP_URL', ['smtp:', 'smtps:']),
    emailFrom: read.string('EMAIL_FROM', 'Keyhold <no-reply@keyhold.local>'),
    rateLimitEnabled: read.bool('RATE_LIMIT_ENABLED', true),
    trustProxy: read.trustProxy('TRUST_PROXY'),
    corsOrigins: read.list('CORS_ORIGINS').map((origin) => read.checkOrigin('CORS_ORIGINS', origin)),
    oauthProviders: readOauthProviders(read),
    oauthRedirectUris: read.list('OAUTH_REDIRECT_URIS').map((uri) => read.checkRedirectUri('OAUTH_REDIRECT_URIS', uri)),
    bootstrapAdmin: readBootstrapAdmin(read),
    logLevel: read.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
    argon2: {
      memoryKib: read.int('ARGON2_MEMORY_KIB', 19_456, { min: 19_456, max: 262_144 }),
      iterations: read.int('ARGON2_ITERATIONS', 2, { min: 2, max: 16 }),
      parallelism: read.int('ARGON2_PARALLELISM', 1, { min: 1, max: 16 }),
    },
    shutdownGraceSeconds: read.int('SHUTDOWN_GRACE_SECONDS', 10, { min: 0, max: 600 }),
    outboxPollIntervalMs: read.int('OUTBOX_POLL_INTERVAL_MS', 2000, { min: 50, max: 600_000 }),
    metricsEnabled: read.bool('METRICS_ENABLED', false),
    metricsToken: readMetricsToken(read),
    auditRetentionDays: read.int('AUDIT_RETENTION_DAYS', 365, { min: 0, max: 36_500 }),
    secretsEncryptionKey: read.base64Key('SECRETS_ENCRYPTION_KEY', 32),
    webhookAllowInsecureUrls: read.bool('WEBHOOK_ALLOW_INSECURE_URLS', false),
    publicUrl: '',
    hostedUi: readHostedUi(read),
    webauthn: { rpId: '', rpName: '', origins: [] },
    jwtAlgorithm: readJwtAlgorithm(read),
    jwtKeyRotationDays: read.int('JWT_KEY_ROTATION_DAYS', 90, { min: 0, max: 3650 }),
    oidcProvider: { enabled: read.bool('OIDC_PROVIDER_ENABLED', false) },
  };
  if (config.oidcProvider.enabled) readOidcProviderRequirements(read, config);
  config.publicUrl = (read.url('PUBLIC_URL', ['http:', 'https:']) ?? `http://${config.host}:${config.port}`).replace(/\/+$/, '');
  // Without FRONTEND_URL, the emails' links open the hosted pages when they are on.
  if (read.url('FRONTEND_URL', ['http:', 'https:']) === undefined && config.hostedUi.enabled) {
    config.frontendUrl = `${config.publicUrl}/ui`;
  }
  // The pages' own OAuth callbacks (modules/hosted-ui) are allowed redirect URIs.
  if (config.hostedUi.enabled) {
    for (const provider of config.oauthProviders) config.oauthRedirectUris.push(pagesOAuthCallbackUrl(config.publicUrl, provider.name));
  }
  // Passkeys' relying party defaults from where the front end (or the hosted pages) lives.
  config.webauthn = readWebauthn(read, config.frontendUrl, config.hostedUi.enabled ? new URL(config.publicUrl).origin : undefined);
  return Object.freeze(config);
}

/**
 * The OpenID Provider names itself by PUBLIC_URL (its issuer, exactly), so PUBLIC_URL must be set
 * on purpose and be https:// (plain http only on loopback, for development). It signs with the
 * key ring, so HS256 (a shared secret) cannot serve it. Its login and consent pages are the
 * hosted pages, which it turns on; JWT_ISSUER defaults to the issuer, so first-party and
 * provider tokens name one issuer.
 */
function readOidcProviderRequirements(read: EnvReader, config: Config): void {
  const publicUrl = read.url('PUBLIC_URL', ['http:', 'https:']);
  if (publicUrl === undefined) throw new ConfigError('PUBLIC_URL', 'must be set when OIDC_PROVIDER_ENABLED=true (it is the issuer)');
  const url = new URL(publicUrl);
  const loopback = ['localhost', '127.0.0.1'].includes(url.hostname);
  if (url.protocol !== 'https:' && !loopback) {
    throw new ConfigError('PUBLIC_URL', 'must be an https:// URL when OIDC_PROVIDER_ENABLED=true (http:// only for localhost or 127.0.0.1)');
  }
  if (url.search || url.hash) throw new ConfigError('PUBLIC_URL', 'must not have a query string or fragment when OIDC_PROVIDER_ENABLED=true');
  if (config.jwtAlgorithm === 'HS256') {
    throw new ConfigError('JWT_ALGORITHM', 'must be ES256, EdDSA or RS256 when OIDC_PROVIDER_ENABLED=true (HS256 cannot sign ID tokens others verify)');
  }
  if (read.string('JWT_ISSUER', '') === '') config.jwtIssuer = publicUrl.replace(/\/+$/, '');
  config.hostedUi = { ...config.hostedUi, enabled: true };
}

/** Where a provider sends the browser back to after a hosted page's sign-in (modules/hosted-ui). */
export const pagesOAuthCallbackUrl = (publicUrl: string, provider: string): string => `${publicUrl}/ui/oauth/${provider}/callback`;

/** `pagesOrigin`: the hosted pages' origin, accepted too when it is on the RP ID (and WEBAUTHN_ORIGINS is unset). */
function readWebauthn(read: EnvReader, frontendUrl: string, pagesOrigin?: string): Config['webauthn'] {
  const rpId = read.string('WEBAUTHN_RP_ID', new URL(frontendUrl).hostname).toLowerCase();
  if (!/^[a-z0-9.-]+$/.test(rpId)) throw new ConfigError('WEBAUTHN_RP_ID', 'must be a domain name, e.g. example.com');
  const listed = read.list('WEBAUTHN_ORIGINS').map((origin) => read.checkOrigin('WEBAUTHN_ORIGINS', origin));
  const onRpId = (origin: string) => {
    const host = new URL(origin).hostname;
    return host === rpId || host.endsWith(`.${rpId}`);
  };
  const origins = listed.length > 0 ? listed : [...new Set([new URL(frontendUrl).origin, ...(pagesOrigin && onRpId(pagesOrigin) ? [pagesOrigin] : [])])];
  for (const origin of origins) {
    // The browser refuses an RP ID that is not the origin's host or a parent domain of it.
    if (!onRpId(origin)) {
      throw new ConfigError('WEBAUTHN_ORIGINS', `${origin} is not on WEBAUTHN_RP_ID ${rpId} or a subdomain of it`);
    }
  }
  return { rpId, rpName: read.string('WEBAUTHN_RP_NAME', 'Keyhold'), origins };
}

function readOauthProviders(read: EnvReader): OidcProviderConfig[] {
  const providers: OidcProviderConfig[] = [];
  const googleId = read.string('GOOGLE_CLIENT_ID', '');
  if (googleId) {
    providers.push({
      name: 'google',
      issuer: read.url('GOOGLE_ISSUER', ['http:', 'https:']) ?? 'https://accounts.google.com',
      clientId: googleId,
      clientSecret: read.string('GOOGLE_CLIENT_SECRET', '') || undefined,
      scopes: ['openid', 'email', 'profile'],
      trustEmail: true,
    });
  }
  const microsoftId = read.string('MICROSOFT_CLIENT_ID', '');
  if (microsoftId) {
    const tenant = read.string('MICROSOFT_TENANT', 'common');
    if (!/^[\w.-]+$/.test(tenant)) throw new ConfigError('MICROSOFT_TENANT', 'must be a tenant id or name');
    providers.push({
      name: 'microsoft',
      issuer:
        read.url('MICROSOFT_ISSUER', ['http:', 'https:']) ?? `https://login.microsoftonline.com/${tenant}/v2.0`,
      clientId: microsoftId,
      clientSecret: read.string('MICROSOFT_CLIENT_SECRET', '') || undefined,
      scopes: ['openid', 'email', 'profile'],
      trustEmail: false,
    });
  }
  // Generic OpenID Connect providers: OIDC_PROVIDERS=okta,keycloak and, for each name,
  // OIDC_<NAME>_ISSUER, OIDC_<NAME>_CLIENT_ID, OIDC_<NAME>_CLIENT_SECRET, OIDC_<NAME>_SCOPES,
  // OIDC_<NAME>_TRUST_EMAIL (default false: see OidcProviderConfig.trustEmail).
  for (const name of read.list('OIDC_PROVIDERS')) {
    if (!/^[a-z][a-z0-9-]{0,31}$/.test(name) || name === 'google' || name === 'microsoft') {
      throw new ConfigError('OIDC_PROVIDERS', `has an invalid provider name "${name}" (lower-case letters, digits, -)`);
    }
    const prefix = `OIDC_${name.toUpperCase().replace(/-/g, '_')}_`;
    const issuer = read.url(`${prefix}ISSUER`, ['http:', 'https:']);
    const clientId = read.string(`${prefix}CLIENT_ID`, '');
    if (!issuer) throw new ConfigError(`${prefix}ISSUER`, `is required for OIDC provider "${name}"`);
    if (!clientId) throw new ConfigError(`${prefix}CLIENT_ID`, `is required for OIDC provider "${name}"`);
    const scopes = read.list(`${prefix}SCOPES`);
    providers.push({
      name,
      issuer,
      clientId,
      clientSecret: read.string(`${prefix}CLIENT_SECRET`, '') || undefined,
      scopes: scopes.length > 0 ? scopes : ['openid', 'email', 'profile'],
      trustEmail: read.bool(`${prefix}TRUST_EMAIL`, false),
    });
  }
  return providers;
}

function readHostedUi(read: EnvReader): HostedUiConfig {
  const primaryColor = read.string('UI_PRIMARY_COLOR', '#2563eb');
  if (!/^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/.test(primaryColor)) {
    throw new ConfigError('UI_PRIMARY_COLOR', `must be a CSS hex colour such as #2563eb (got "${primaryColor}")`);
  }
  return {
    enabled: read.bool('HOSTED_UI_ENABLED', false),
    brandName: read.string('UI_BRAND_NAME', 'Keyhold'),
    primaryColor: primaryColor.toLowerCase(),
    logoUrl: read.url('UI_LOGO_URL', ['http:', 'https:']),
  };
}

/** Written as the JOSE names (ES256, EdDSA, RS256, HS256); any case is accepted. HS256 stays the
 *  default when JWT_SECRET is set, so a 0.1 deployment keeps signing exactly as before. */
function readJwtAlgorithm(read: EnvReader): Config['jwtAlgorithm'] {
  const names = ['ES256', 'EdDSA', 'RS256', 'HS256'] as const;
  const value = read.string('JWT_ALGORITHM', '');
  if (value === '') return read.secret('JWT_SECRET', 32) === undefined ? 'ES256' : 'HS256';
  const alg = names.find((name) => name.toLowerCase() === value.toLowerCase());
  if (!alg) throw new ConfigError('JWT_ALGORITHM', `must be one of ${names.join(', ')} (got "${value}")`);
  return alg;
}

/** Sent as `Authorization: Bearer <token>`, so it must be one visible-ASCII word. */
function readMetricsToken(read: EnvReader): string | undefined {
  const token = read.secret('METRICS_TOKEN', 16);
  if (token !== undefined && !/^[\x21-\x7e]+$/.test(token)) {
    throw new ConfigError('METRICS_TOKEN', 'must be printable ASCII without spaces (e.g. openssl rand -hex 32)');
  }
  return token;
}

function readBootstrapAdmin(read: EnvReader): Config['bootstrapAdmin'] {
  const email = read.string('BOOTSTRAP_ADMIN_EMAIL', '');
  const password = read.string('BOOTSTRAP_ADMIN_PASSWORD', '');
  if (!email && !password) return undefined;
  if (!email) throw new ConfigError('BOOTSTRAP_ADMIN_EMAIL', 'is required when BOOTSTRAP_ADMIN_PASSWORD is set');
  if (!password) throw new ConfigError('BOOTSTRAP_ADMIN_PASSWORD', 'is required when BOOTSTRAP_ADMIN_EMAIL is set');
  if (!isValidEmail(email)) throw new ConfigError('BOOTSTRAP_ADMIN_EMAIL', 'must be an email address');
  if ([...password].length < 8 || [...password].length > 128) {
    throw new ConfigError('BOOTSTRAP_ADMIN_PASSWORD', 'must be 8 to 128 characters');
  }
  return { email: normalizeEmail(email), password };
}

class EnvReader {
  constructor(private readonly env: Env) {}

  private raw(name: string): string | undefined {
    const value = this.env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  }

  string(name: string, fallback: string): string {
    return this.raw(name) ?? fallback;
  }

  int(name: string, fallback: number, range: { min: number; max: number }): number {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if (!/^\d+$/.test(value) || Number(value) < range.min || Number(value) > range.max) {
      throw new ConfigError(name, `must be a whole number from ${range.min} to ${range.max} (got "${value}")`);
    }
    return Number(value);
  }

  bool(name: string, fallback: boolean): boolean {
    const value = this.raw(name)?.toLowerCase();
    if (value === undefined) return fallback;
    if (['true', '1', 'yes', 'on'].includes(value)) return true;
    if (['false', '0', 'no', 'off'].includes(value)) return false;
    throw new ConfigError(name, `must be true or false (got "${value}")`);
  }

  oneOf(name: string, allowed: string[], fallback: string): string {
    const value = this.raw(name)?.toLowerCase();
    if (value === undefined) return fallback;
    if (!allowed.includes(value)) throw new ConfigError(name, `must be one of ${allowed.join(', ')} (got "${value}")`);
    return value;
  }

  url(name: string, protocols: string[]): string | undefined {
    const value = this.raw(name);
    if (value === undefined) return undefined;
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      throw new ConfigError(name, 'must be a URL');
    }
    if (!protocols.includes(parsed.protocol)) {
      throw new ConfigError(name, `must be a ${protocols.map((p) => p.replace(':', '://')).join(' or ')} URL`);
    }
    return value;
  }

  checkUrl(name: string, value: string): string {
    try {
      const parsed = new URL(value);
      if (parsed.protocol === 'http:' || parsed.protocol === 'https:') return value;
    } catch {
      // fall through to the error below
    }
    throw new ConfigError(name, `has an entry that is not an http(s) URL: "${value}"`);
  }

  /** Providers are sent the callback URL without its query, so an entry may not have one. */
  checkRedirectUri(name: string, value: string): string {
    const url = new URL(this.checkUrl(name, value));
    if (url.search || url.hash) throw new ConfigError(name, `has an entry with a query string or fragment: "${value}"`);
    return value;
  }

  checkOrigin(name: string, value: string): string {
    const url = this.checkUrl(name, value);
    return new URL(url).origin;
  }

  /** A secret never echoes its value in an error. Its length is counted in UTF-8 bytes. */
  secret(name: string, minBytes: number): string | undefined {
    const value = this.raw(name);
    if (value !== undefined && Buffer.byteLength(value, 'utf8') < minBytes) {
      throw new ConfigError(name, `must be at least ${minBytes} bytes (use a long random value, e.g. openssl rand -base64 48)`);
    }
    return value;
  }

  /** A key given as base64 of exactly `bytes` bytes; the value is never echoed. */
  base64Key(name: string, bytes: number): Buffer | undefined {
    const value = this.raw(name);
    if (value === undefined) return undefined;
    const key = /^[A-Za-z0-9+/]+={0,2}$/.test(value) ? Buffer.from(value, 'base64') : Buffer.alloc(0);
    if (key.length !== bytes) {
      throw new ConfigError(name, `must be ${bytes} random bytes in base64 (e.g. openssl rand -base64 ${bytes})`);
    }
    return key;
  }

  prefix(name: string, fallback: string): string {
    const value = this.raw(name) ?? fallback;
    if (value === '' || value === '/') return '';
    if (!/^\/[\w\-/.]*[^/]$/.test(value)) throw new ConfigError(name, `must look like /api/v1 (got "${value}")`);
    return value;
  }

  list(name: string): string[] {
    const value = this.raw(name);
    if (value === undefined) return [];
    return value
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean);
  }

  trustProxy(name: string): Config['trustProxy'] {
    const value = this.raw(name);
    if (value === undefined) return false;
    const lower = value.toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(lower)) return true;
    if (['false', '0', 'no', 'off'].includes(lower)) return false;
    if (/^\d+$/.test(value)) return Number(value);
    const entries = this.list(name);
    if (entries.every((entry) => /^[0-9a-fA-F:.]+(\/\d{1,3})?$/.test(entry))) return entries;
    throw new ConfigError(name, 'must be true, false, a hop count, or a comma-separated list of addresses/CIDRs');
  }
}
