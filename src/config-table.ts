// The one table of configuration: every environment variable Keyhold reads, with its default,
// its parser and one line of documentation. loadConfig (config.ts) reads the environment through
// it and docs/configuration.md is generated from it (`npm run docs:config`; a test fails when the
// page and the table differ).
//
// Adding a variable is one line in the section it belongs to: `name: setting('ENV_NAME',
// { fallback: default, parser: parser(), doc: 'What it does.' })` makes `config.name` exist,
// typed, validated at start and documented. A row marked `input` is not a field of Config itself: loadConfig combines it with
// others (the providers, the hosted pages' branding, the argon2 costs, …).
import {
  base64Key,
  baseUrl,
  bool,
  hexColour,
  int,
  list,
  dnsServers,
  matching,
  oneOf,
  origins,
  type Parser,
  pathPrefix,
  redirectUris,
  secret,
  string,
  trustProxy,
  url,
} from './config-parsers.js';

export interface Setting<T> {
  env: string;
  /** Used when the variable is unset or blank. */
  fallback: T;
  /** How the docs state the default, when it is not simply `fallback`. */
  defaultText?: string;
  parser: Parser<NonNullable<T>>;
  doc: string;
  /** Read by loadConfig to build another field, not a field of Config under this name. */
  input?: true;
}

/** A row of the table after its variable's name (the fields of Setting). */
export interface SettingRow<T> {
  fallback: NoInfer<T>;
  parser: Parser<T>;
  doc: string;
  defaultText?: string;
}

/** A row without a default (optional): the fields of Setting but `fallback`. */
export interface OptionalRow<T> {
  parser: Parser<T>;
  doc: string;
  defaultText?: string;
}

export function setting<T>(env: string, { fallback, parser, doc, ...extras }: SettingRow<T>): Setting<T> {
  return { env, fallback, parser: parser as Parser<NonNullable<T>>, doc, ...extras };
}

/** No default: unset leaves the field undefined (what that means is in `doc`). */
export function optional<T>(env: string, { parser, doc, ...extras }: OptionalRow<T>): Setting<T | undefined> {
  return { env, fallback: undefined, parser: parser as Parser<NonNullable<T | undefined>>, doc, ...extras };
}

export function input<T>(row: Setting<T>): Setting<T> & { input: true } {
  return { ...row, input: true };
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const JWT_ALGORITHMS = ['ES256', 'EdDSA', 'RS256', 'HS256'] as const;

const server = {
  port: setting('PORT', { fallback: 8000, parser: int(0, 65_535), doc: 'Port to listen on.' }),
  host: setting('HOST', { fallback: '127.0.0.1', parser: string(), doc: 'Address to listen on (`0.0.0.0` in a container).' }),
  publicUrl: input(
    optional('PUBLIC_URL', {
      parser: baseUrl(),
      doc: 'The one URL where browsers and other services reach this Keyhold (scheme, host, optional path), as seen from outside any proxy: the absolute URLs of `/.well-known/openid-configuration`, the hosted pages\' links, OAuth callbacks and cookie. Every instance behind one name has the same.',
      defaultText: '`http://HOST:PORT`',
    }),
  ),
  apiPrefix: setting('API_PREFIX', { fallback: '/api/v1', parser: pathPrefix(), doc: 'Prefix of every API route (`/`, `/healthz`, `/readyz`, `/openapi.json`, `/docs`, `/metrics`, `/.well-known/*` stay at the root).' }),
  trustProxy: setting('TRUST_PROXY', { fallback: false, parser: trustProxy(), doc: '`true`, a hop count, or the proxies\' addresses/CIDRs: only then is `X-Forwarded-For` believed (per-IP limits, audit IPs).' }),
  corsOrigins: setting('CORS_ORIGINS', { fallback: [], parser: origins(), doc: 'Origins allowed to call the API from a browser; none: no CORS headers at all.', defaultText: 'none' }),
  logLevel: setting('LOG_LEVEL', { fallback: 'info', parser: oneOf(LOG_LEVELS, { lowerCase: true }), doc: 'Log level; on a terminal lines are pretty-printed, otherwise JSON. Authorization and cookie headers are always redacted.' }),
  shutdownGraceSeconds: setting('SHUTDOWN_GRACE_SECONDS', { fallback: 10, parser: int(0, 600), doc: 'How long in-flight requests and the running job may take after SIGTERM.' }),
  shutdownDrainSeconds: setting('SHUTDOWN_DRAIN_SECONDS', { fallback: 0, parser: int(0, 300), doc: 'After SIGTERM, how long the instance keeps serving while `/readyz` answers 503, before it stops listening: at least a load balancer\'s time to mark it unhealthy. Less than `SHUTDOWN_GRACE_SECONDS`.' }),
};

const storage = {
  databaseUrl: optional('DATABASE_URL', { parser: url(['postgres:', 'postgresql:']), doc: '`postgres://…` of a PostgreSQL server; unset: the embedded database (PGlite) in `DATA_DIR`.' }),
  dataDir: setting('DATA_DIR', { fallback: './data', parser: string(), doc: 'Directory of the embedded database (and its secrets key file).' }),
  databasePoolSize: setting('DATABASE_POOL_SIZE', { fallback: 10, parser: int(1, 1000), doc: 'Connections per instance to `DATABASE_URL`.' }),
  databasePreparedStatements: setting('DATABASE_PREPARED_STATEMENTS', { fallback: true, parser: bool(), doc: 'Run the hot statements as named prepared statements; `false` behind PgBouncer in transaction mode older than 1.21.' }),
  redisUrl: optional('REDIS_URL', { parser: url(['redis:', 'rediss:']), doc: '`redis://…`: rate-limit counters shared by every instance; unset: in process memory.' }),
  secretsEncryptionKey: optional('SECRETS_ENCRYPTION_KEY', {
    parser: base64Key(32),
    doc: 'AES-256-GCM key for the secrets kept in the database (signing keys, TOTP and webhook secrets): `openssl rand -base64 32`. Unset: a key file `DATA_DIR/secrets.key` on the embedded database; unencrypted (with a warning at each start) on `DATABASE_URL`. Every instance needs the same key.',
  }),
};

const tokens = {
  // RFC 7518 §3.2: an HS256 key has at least 256 bits.
  jwtSecret: optional('JWT_SECRET', { parser: secret(32), doc: 'HS256 secret (0.1\'s mode). Set without `JWT_ALGORITHM`: tokens are HS256 and the JWKS is empty. Leave unset for the asymmetric keys.' }),
  jwtAlgorithm: input(
    optional('JWT_ALGORITHM', {
      parser: oneOf(JWT_ALGORITHMS),
      doc: 'How tokens are signed: `ES256`, `EdDSA`, `RS256` or `HS256` (any case).',
      defaultText: '`ES256`; `HS256` when `JWT_SECRET` is set',
    }),
  ),
  jwtKeyRotationDays: setting('JWT_KEY_ROTATION_DAYS', { fallback: 90, parser: int(0, 3650), doc: 'The current signing key is rotated when this many days old (checked by one instance every `SIGNING_KEYS_INTERVAL_SECONDS`); `0`: never.' }),
  signingKeysIntervalSeconds: setting('SIGNING_KEYS_INTERVAL_SECONDS', { fallback: 3600, parser: int(1, 86_400), doc: 'How often one instance checks the signing keys (rotation due, previous keys to delete).' }),
  jwtIssuer: setting('JWT_ISSUER', { fallback: 'keyhold', parser: string(), doc: '`iss` of every token; verifiers check it.' }),
  jwtAudience: setting('JWT_AUDIENCE', { fallback: 'keyhold', parser: string(), doc: '`aud` of every token; verifiers check it.' }),
  accessTokenExpireMinutes: setting('ACCESS_TOKEN_EXPIRE_MINUTES', { fallback: 15, parser: int(1, 24 * 60), doc: 'Access-token lifetime.' }),
  refreshTokenExpireDays: setting('REFRESH_TOKEN_EXPIRE_DAYS', { fallback: 7, parser: int(1, 365), doc: 'Refresh-token lifetime.' }),
  refreshReuseIntervalSeconds: setting('REFRESH_REUSE_INTERVAL_SECONDS', { fallback: 10, parser: int(0, 300), doc: 'Window in which a just-rotated refresh token gets the same successor back; `0`: strict.' }),
};

const signUp = {
  frontendUrl: input(
    optional('FRONTEND_URL', {
      parser: baseUrl(),
      doc: 'Base of the links in emails (verification, reset, invites).',
      defaultText: '`http://localhost:3000`; `PUBLIC_URL/ui` with the hosted pages on',
    }),
  ),
  requireInviteCode: setting('REQUIRE_INVITE_CODE', { fallback: false, parser: bool(), doc: 'With `SELF_SERVE_ENABLED=false`, registration needs a platform invite code.' }),
  selfServeEnabled: setting('SELF_SERVE_ENABLED', { fallback: true, parser: bool(), doc: 'Public sign-up; when on, the invite gate is bypassed (codes still apply their plan).' }),
  trialDays: setting('TRIAL_DAYS', { fallback: 14, parser: int(0, 3650), doc: 'Length of the standard `pro` trial.' }),
  bootstrapAdminEmail: input(optional('BOOTSTRAP_ADMIN_EMAIL', { parser: string(), doc: 'With `BOOTSTRAP_ADMIN_PASSWORD`: create this platform admin at start if no such user exists.' })),
  bootstrapAdminPassword: input(optional('BOOTSTRAP_ADMIN_PASSWORD', { parser: string(), doc: 'Its password (8 to 128 characters).' })),
  rateLimitEnabled: setting('RATE_LIMIT_ENABLED', { fallback: true, parser: bool(), doc: 'Per-IP limits (e.g. register 3/minute, login 5/minute).' }),
  argon2MemoryKib: input(setting('ARGON2_MEMORY_KIB', { fallback: 19_456, parser: int(19_456, 262_144), doc: 'argon2id memory cost.' })),
  argon2Iterations: input(setting('ARGON2_ITERATIONS', { fallback: 2, parser: int(2, 16), doc: 'argon2id passes.' })),
  argon2Parallelism: input(setting('ARGON2_PARALLELISM', { fallback: 1, parser: int(1, 16), doc: 'argon2id lanes.' })),
};

const email = {
  smtpUrl: optional('SMTP_URL', { parser: url(['smtp:', 'smtps:']), doc: '`smtp://user:pass@host:587` or `smtps://…`; unset: emails are written to the log and stay queued.' }),
  emailFrom: setting('EMAIL_FROM', { fallback: 'Keyhold <no-reply@keyhold.local>', parser: string(), doc: 'Sender of every email.' }),
  outboxPollIntervalMs: setting('OUTBOX_POLL_INTERVAL_MS', { fallback: 2000, parser: int(50, 600_000), doc: 'How often the job worker looks for due jobs and periodic tasks (it is also woken after each commit).' }),
};

const signIn = {
  dnsServers: setting('DNS_SERVERS', { fallback: [], parser: dnsServers(), doc: 'Resolvers (`ip[:port]`, comma-separated) for the DNS TXT check of an account\'s domain (enterprise SSO); unset: the system\'s.', defaultText: 'the system\'s' }),
  ssoEnforcementResweepSeconds: setting('SSO_ENFORCEMENT_RESWEEP_SECONDS', { fallback: 30, parser: int(1, 300), doc: 'When an account turns SSO enforcement on, the sessions not made by SSO of people on its verified domains end at once, and again this long after (a sign-in that raced the change).' }),
  oauthRedirectUris: setting('OAUTH_REDIRECT_URIS', { fallback: [], parser: redirectUris(), doc: 'Redirect URIs the front end may use with the OAuth providers (no query string).', defaultText: 'none' }),
  googleClientId: input(optional('GOOGLE_CLIENT_ID', { parser: string(), doc: 'Google sign-in: the OAuth client id (turns Google on).' })),
  googleClientSecret: input(optional('GOOGLE_CLIENT_SECRET', { parser: string(), doc: 'Google: the client secret.' })),
  googleIssuer: input(setting('GOOGLE_ISSUER', { fallback: 'https://accounts.google.com', parser: url(['http:', 'https:']), doc: 'Google: the issuer (tests point it elsewhere).' })),
  microsoftClientId: input(optional('MICROSOFT_CLIENT_ID', { parser: string(), doc: 'Microsoft sign-in: the app id (turns Microsoft on).' })),
  microsoftClientSecret: input(optional('MICROSOFT_CLIENT_SECRET', { parser: string(), doc: 'Microsoft: the client secret.' })),
  microsoftTenant: input(setting('MICROSOFT_TENANT', { fallback: 'common', parser: matching(/^[\w.-]+$/, 'must be a tenant id or name', 'tenant'), doc: 'Microsoft: `common`, `organizations`, `consumers` or a tenant id.' })),
  microsoftIssuer: input(
    optional('MICROSOFT_ISSUER', { parser: url(['http:', 'https:']), doc: 'Microsoft: the issuer.', defaultText: '`https://login.microsoftonline.com/MICROSOFT_TENANT/v2.0`' }),
  ),
  oidcProviders: input(setting('OIDC_PROVIDERS', { fallback: [], parser: list(), doc: 'Names of generic OpenID Connect providers (lower-case letters, digits, `-`), each configured by the `OIDC_<NAME>_*` rows.', defaultText: 'none' })),
  oidcIssuer: input(optional('OIDC_<NAME>_ISSUER', { parser: url(['http:', 'https:']), doc: 'The provider\'s issuer (required).' })),
  oidcClientId: input(optional('OIDC_<NAME>_CLIENT_ID', { parser: string(), doc: 'Its client id (required).' })),
  oidcClientSecret: input(optional('OIDC_<NAME>_CLIENT_SECRET', { parser: string(), doc: 'Its client secret; unset: a public client (PKCE is always used).' })),
  oidcScopes: input(setting('OIDC_<NAME>_SCOPES', { fallback: ['openid', 'email', 'profile'], parser: list(), doc: 'Scopes asked for.' })),
  oidcTrustEmail: input(setting('OIDC_<NAME>_TRUST_EMAIL', { fallback: false, parser: bool(), doc: 'Believe its `email_verified` (link by email, start verified): only if no one else can set the address.' })),
  webauthnRpId: input(
    optional('WEBAUTHN_RP_ID', {
      parser: matching(/^[a-z0-9.-]+$/i, 'must be a domain name, e.g. example.com', 'domain'),
      doc: 'Passkeys\' relying-party id (a registrable domain).',
      defaultText: 'the host of `FRONTEND_URL`',
    }),
  ),
  webauthnRpName: input(setting('WEBAUTHN_RP_NAME', { fallback: 'Keyhold', parser: string(), doc: 'Passkeys\' relying-party display name.' })),
  webauthnOrigins: input(
    setting('WEBAUTHN_ORIGINS', {
      fallback: [],
      parser: origins(),
      doc: 'Origins whose passkey ceremonies are accepted, each on `WEBAUTHN_RP_ID`.',
      defaultText: '`FRONTEND_URL`\'s origin, and `PUBLIC_URL`\'s with the hosted pages on',
    }),
  ),
};

const pages = {
  hostedUiEnabled: input(setting('HOSTED_UI_ENABLED', { fallback: false, parser: bool(), doc: 'Serve the hosted pages under `/ui/`.' })),
  oidcProviderEnabled: input(setting('OIDC_PROVIDER_ENABLED', { fallback: false, parser: bool(), doc: 'Keyhold as an OpenID Provider under `/oidc/` (docs/oidc-provider.md); needs `PUBLIC_URL` (https://, or http:// on localhost/127.0.0.1) and an asymmetric `JWT_ALGORITHM`; turns the hosted pages on; `JWT_ISSUER` defaults to `PUBLIC_URL`.' })),
  uiBrandName: input(setting('UI_BRAND_NAME', { fallback: 'Keyhold', parser: string(), doc: 'Hosted pages: the product name shown.' })),
  uiPrimaryColor: input(setting('UI_PRIMARY_COLOR', { fallback: '#2563eb', parser: hexColour(), doc: 'Hosted pages: the accent colour.' })),
  uiLogoUrl: input(optional('UI_LOGO_URL', { parser: url(['http:', 'https:']), doc: 'Hosted pages: the logo\'s URL.' })),
};

const operations = {
  metricsEnabled: setting('METRICS_ENABLED', { fallback: false, parser: bool(), doc: 'Prometheus metrics at `GET /metrics`; off: no route and no per-request cost.' }),
  metricsToken: optional('METRICS_TOKEN', {
    parser: secret(16, { test: /^[\x21-\x7e]+$/, message: 'must be printable ASCII without spaces (e.g. openssl rand -hex 32)' }),
    doc: 'When set, `GET /metrics` needs `Authorization: Bearer <token>` (`openssl rand -hex 32`); unset: open, so restrict it by network.',
  }),
  auditRetentionDays: setting('AUDIT_RETENTION_DAYS', { fallback: 365, parser: int(0, 36_500), doc: 'Audit events older than this are purged (every `RETENTION_INTERVAL_SECONDS`); `0` keeps them forever.' }),
  retentionIntervalSeconds: setting('RETENTION_INTERVAL_SECONDS', { fallback: 3600, parser: int(1, 7 * 86_400), doc: 'How often one instance runs the retention purge.' }),
  webhookAllowInsecureUrls: setting('WEBHOOK_ALLOW_INSECURE_URLS', { fallback: false, parser: bool(), doc: '`http://` and private or loopback webhook targets: development and tests only.' }),
};

/** Sections in the order the docs show them. */
export const CONFIG_SECTIONS = { Server: server, Storage: storage, Tokens: tokens, 'Sign-up and passwords': signUp, Email: email, 'Sign-in: OAuth and passkeys': signIn, 'Hosted pages': pages, Operations: operations } as const;

export const CONFIG_TABLE = { ...server, ...storage, ...tokens, ...signUp, ...email, ...signIn, ...pages, ...operations };

type Table = typeof CONFIG_TABLE;
type ValueOf<S> = S extends Setting<infer T> ? T : never;
/** Every row's value, by its name. */
export type ConfigValues = { [K in keyof Table]: ValueOf<Table[K]> };
/** The rows that are fields of Config as they are. */
export type TableFields = { [K in keyof Table as Table[K] extends { input: true } ? never : K]: ValueOf<Table[K]> };
