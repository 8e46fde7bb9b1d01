// The OpenID providers the operator configured, and their discovered metadata.
//
// Endpoints and signing keys always come from discovery at the configured issuer, never from
// hard-coded URLs, so a provider can be pointed at any OpenID provider (tests use a local one).
// openid-client does the protocol checks: HTTPS only, the discovered issuer must equal the
// configured one, and the ID token's `iss`, `aud`, `exp` and `nonce`. Its signature against the
// provider's JWKS is checked too, because we ask for it: by default openid-client trusts an ID
// token that came straight from the token endpoint over TLS (OpenID Connect allows that).
//
// Microsoft's multi-tenant issuers (/common, /organizations, /consumers) publish the template
// issuer `https://login.microsoftonline.com/{tenantid}/v2.0`. openid-client recognises Entra ID
// by the configured issuer's origin and then expects each ID token's `iss` to be that template
// with the token's own `tid` substituted. That only happens when discovery is given the bare
// issuer URL (not the .../.well-known/openid-configuration address), which is what we pass.
import type * as oidc from 'openid-client';
import type { OidcProviderConfig } from '../../config.js';
import type { AppContext } from '../../context.js';
import { Errors } from '../../lib/errors.js';

/** How long a discovery document is reused; keys rotate through openid-client's JWKS cache. */
const DISCOVERY_TTL_MS = 60 * 60 * 1000;
/** A failed discovery is remembered briefly so a dead provider is not hammered, then retried. */
const DISCOVERY_FAILURE_TTL_MS = 10 * 1000;
/** Seconds to wait for any provider request; a user is waiting on the other end. */
const PROVIDER_TIMEOUT_SECONDS = 10;

type OpenIdClient = typeof oidc;
let openIdClientLoaded: OpenIdClient | undefined;
let openIdClientLoading: Promise<OpenIdClient> | undefined;

/**
 * openid-client, loaded by the first OAuth request rather than at start (most instances
 * configure no provider, and the rest use it only on sign-in). A failed load fails that
 * request with a 500 whose logged error names the package; the next request tries again.
 */
export function openIdClient(): Promise<OpenIdClient> {
  openIdClientLoading ??= import('openid-client').then(
    (module) => (openIdClientLoaded = module),
    (err: unknown) => {
      openIdClientLoading = undefined;
      throw new Error(`openid-client could not be loaded, so OAuth sign-in is unavailable: ${(err as Error).message}`);
    },
  );
  return openIdClientLoading;
}

interface CachedDiscovery {
  configuration: Promise<oidc.Configuration>;
  expiresAt: number;
}

export interface OAuthProviders {
  /** The provider's settings; 404 `Provider not configured` for any other name. */
  get(name: string): OidcProviderConfig;
  /** Discovered configuration, cached; 503 `OAuth provider unavailable` when it cannot be fetched. */
  configuration(provider: OidcProviderConfig): Promise<oidc.Configuration>;
}

export function createOAuthProviders(ctx: Pick<AppContext, 'config' | 'clock' | 'log'>): OAuthProviders {
  const byName = new Map(ctx.config.oauthProviders.map((provider) => [provider.name, provider]));
  const cache = new Map<string, CachedDiscovery>();

  function discover(provider: OidcProviderConfig): Promise<oidc.Configuration> {
    const started = ctx.clock.now().getTime();
    // Concurrent callers share one pending discovery; a failure shortens the entry's life.
    const entry = { expiresAt: started + DISCOVERY_TTL_MS } as CachedDiscovery;
    entry.configuration = openIdClient().then(
      (client) =>
        client
          .discovery(new URL(provider.issuer), provider.clientId, provider.clientSecret, undefined, {
            timeout: PROVIDER_TIMEOUT_SECONDS,
            execute: [client.enableNonRepudiationChecks],
          })
          .catch((err: unknown) => {
            entry.expiresAt = started + DISCOVERY_FAILURE_TTL_MS;
            ctx.log.warn({ provider: provider.name, reason: describeProviderError(err) }, 'OAuth provider discovery failed');
            throw Errors.oauthProviderUnavailable();
          }),
      (err: unknown) => {
        // openid-client did not load: not remembered, the next request loads it again.
        entry.expiresAt = started;
        throw err;
      },
    );
    // Callers attach their own handlers; this one only keeps a failure from being "unhandled".
    entry.configuration.catch(() => {});
    cache.set(provider.name, entry);
    return entry.configuration;
  }

  return {
    get(name) {
      const provider = byName.get(name);
      if (!provider) throw Errors.providerNotConfigured();
      return provider;
    },
    configuration(provider) {
      const cached = cache.get(provider.name);
      if (cached && cached.expiresAt > ctx.clock.now().getTime()) return cached.configuration;
      return discover(provider);
    },
  };
}

/**
 * True when the provider could not be reached or answered with a server error: the user did
 * nothing wrong and may retry (503). Anything else (an OAuth error such as invalid_grant, or a
 * failed ID-token check) is a failed sign-in (400).
 */
export function isProviderUnreachable(err: unknown): boolean {
  // An openid-client error can only exist once openid-client is loaded.
  const oidc = openIdClientLoaded;
  if (oidc && err instanceof oidc.ResponseBodyError) return err.status >= 500;
  if (err instanceof TypeError) return err.message === 'fetch failed';
  if (oidc && err instanceof oidc.ClientError) {
    if (err.code === 'OAUTH_TIMEOUT' || err.code === 'OAUTH_ABORT') return true;
    if (err.cause instanceof Response) return err.cause.status >= 500;
    return err.cause instanceof TypeError && err.cause.message === 'fetch failed';
  }
  return false;
}

/** What may be logged about a provider error: its kind, never tokens, claims or bodies. */
export function describeProviderError(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { message: String(err) };
  const described: Record<string, unknown> = { type: err.name, message: err.message };
  const { code, error, status } = err as { code?: unknown; error?: unknown; status?: unknown };
  if (typeof code === 'string') described.code = code;
  if (typeof error === 'string') described.error = error;
  if (typeof status === 'number') described.status = status;
  const cause = err.cause as { code?: unknown; message?: unknown } | undefined;
  if (cause && typeof cause.code === 'string') described.cause = cause.code;
  return described;
}
