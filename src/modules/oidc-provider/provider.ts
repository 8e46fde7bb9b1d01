// Keyhold as an OpenID Provider: oidc-provider (panva), configured from Keyhold's parts. The
// protocol (authorization code + PKCE, tokens, refresh rotation, client credentials, DPoP, PAR,
// device flow, introspection, revocation, logout) is the library's; what is Keyhold's is here:
// storage (oidc-adapter.ts), clients (clients.repo.ts), keys (the one key set, modules/keys), accounts and
// claims, and the interaction pages (modules/hosted-ui/oidc-pages.ts).
//
// oidc-provider 9 prints "Unsupported runtime. Use Node.js v22.x LTS" on Node 20: its authors
// test and support only Node 22 and later. It runs on Node 20.19 (everything it calls exists
// there, e.g. crypto.hash), and Keyhold's tests cover the flows used; the warning is a notice
// that upstream fixes will not be checked against Node 20, not a failure.
import type { AppContext } from '../../context.js';
import { adapterFactory } from './oidc-adapter.js';
import { findAccountFacts } from './grant-source.repo.js';
import { existingReadsOf } from './request-reads.js';
import { sendWhatWaits } from './write-behind.js';
import { EXTRA_METADATA, OIDC_SCOPES } from './client-metadata.js';
import { secretMatches } from './clients.service.js';
import { guardedFetch } from '../webhooks/guarded-fetch.js';
import { pageSources } from './page-sources.js';
import { acceptOwnJwts, jwtForUserinfo } from './userinfo-tokens.js';
import type { KoaLikeContext, OidcProvider, ProviderClient, ProviderPages } from './provider-types.js';
import type { ProviderKeys } from '../keys/key-set.js';
import { tokenLifetimesSeconds } from '../keys/token-lifetimes.js';

export const OIDC_PREFIX = '/oidc';
const OIDC_PREFIX_MODULE_NAME = 'oidc-provider';
const OIDC_PROVIDER_MODULE: string = OIDC_PREFIX_MODULE_NAME;
/** Where the hosted pages take over an authorization (modules/hosted-ui/oidc-pages.ts). */
export const interactionPath = (uid: string): string => `/ui/authorize/${uid}`;

export const SCOPE_CLAIMS = {
  openid: ['sub'],
  profile: ['name', 'zoneinfo', 'updated_at'],
  email: ['email', 'email_verified'],
  account: ['account_id', 'account_role', 'role'],
} as const;

export type ProviderDeps = Pick<AppContext, 'db' | 'clock' | 'config' | 'log'> & {
  keys: ProviderKeys;
  cookieKeys: string[];
  /** The hosted pages' look for the device flow's and logout's pages (page-sources.ts). */
  pages: ProviderPages;
};

type OidcModule = {
  default: (new (issuer: string, configuration: Record<string, unknown>) => OidcProvider) & {
    /** The request being served (the library keeps it in an AsyncLocalStorage of its own). */
    readonly ctx: KoaLikeContext | undefined;
  };
  errors: { InvalidGrant: new (description?: string) => Error; InvalidTarget: new (description?: string) => Error };
  interactionPolicy: {
    base(): { get(name: string): { checks: { add(check: unknown): void } } };
    Check: new (reason: string, description: string, check: (ctx: KoaLikeContext) => boolean) => unknown;
  };
};

const clientResources = (client: ProviderClient): string[] => (client.keyhold_resources as string[] | undefined) ?? [];

/** Whether this authorization needs a second factor: `acr_values=aal2` or a require_mfa client. */
export function needsAal2(ctx: KoaLikeContext): boolean {
  const acrValues = String(ctx.oidc?.params?.acr_values ?? '').split(' ');
  return acrValues.includes('aal2') || ctx.oidc?.client?.keyhold_require_mfa === true;
}

export async function createProvider(deps: ProviderDeps): Promise<OidcProvider> {
  // Loaded only when the provider is on (it is large, and warns on Node 20 when loaded).
  // (It ships no type declarations: the part used is typed in provider-types.ts.)
  const oidc = (await import(OIDC_PROVIDER_MODULE)) as OidcModule;
  const { config, db, clock } = deps;
  const issuer = config.publicUrl;
  const { access: accessTokenTtl, refresh: refreshTtl } = tokenLifetimesSeconds(config);
  const sources = pageSources(deps.pages);

  const policy = oidc.interactionPolicy.base();
  // An aal1 session does not satisfy acr_values=aal2 or a require_mfa client: the login prompt
  // comes back, and the hosted page asks for (or asks the user to set up) a second factor.
  policy.get('login').checks.add(
    new oidc.interactionPolicy.Check('aal2_required', 'A second factor is required', (ctx) =>
      Boolean(ctx.oidc?.session?.accountId) && needsAal2(ctx) && ctx.oidc?.session?.acr !== 'aal2'),
  );

  const provider = new oidc.default(issuer, {
    adapter: adapterFactory({ db, clock, alreadyConsumed: () => new oidc.errors.InvalidGrant('already consumed'), currentRequest: () => oidc.default.ctx }),
    jwks: { keys: deps.keys.keys },
    cookies: {
      keys: deps.cookieKeys,
      long: { signed: true, httpOnly: true, sameSite: 'lax' },
      short: { signed: true, httpOnly: true, sameSite: 'lax' },
    },
    routes: {
      authorization: `${OIDC_PREFIX}/auth`,
      token: `${OIDC_PREFIX}/token`,
      userinfo: `${OIDC_PREFIX}/me`,
      end_session: `${OIDC_PREFIX}/session/end`,
      revocation: `${OIDC_PREFIX}/token/revocation`,
      introspection: `${OIDC_PREFIX}/token/introspection`,
      pushed_authorization_request: `${OIDC_PREFIX}/request`,
      device_authorization: `${OIDC_PREFIX}/device/auth`,
      code_verification: `${OIDC_PREFIX}/device`,
      backchannel_authentication: `${OIDC_PREFIX}/backchannel`,
      registration: `${OIDC_PREFIX}/reg`,
      challenge: `${OIDC_PREFIX}/challenge`,
      credential: `${OIDC_PREFIX}/credential`,
      // The one JWKS of 0.2, served by modules/keys (this path is never handed to the provider).
      jwks: '/.well-known/jwks.json',
    },
    scopes: [...OIDC_SCOPES],
    // acr, amr and auth_time under openid: an ID token always says how the user signed in.
    claims: { ...SCOPE_CLAIMS, openid: [...SCOPE_CLAIMS.openid, 'acr', 'amr', 'auth_time', 'sid'] },
    // ID tokens carry the claims of the granted scopes too, not only userinfo.
    conformIdTokenClaims: false,
    acrValues: ['aal1', 'aal2'],
    clientDefaults: { id_token_signed_response_alg: deps.keys.alg, grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic' },
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'],
    extraClientMetadata: { properties: [...EXTRA_METADATA] },
    enabledJWA: {
      // No HMAC: a client's secret is stored hashed, so it cannot key a signature.
      idTokenSigningAlgValues: ['ES256', 'EdDSA', 'RS256'],
      userinfoSigningAlgValues: ['ES256', 'EdDSA', 'RS256'],
      introspectionSigningAlgValues: ['ES256', 'EdDSA', 'RS256'],
      authorizationSigningAlgValues: ['ES256', 'EdDSA', 'RS256'],
      clientAuthSigningAlgValues: ['ES256', 'EdDSA', 'RS256', 'PS256'],
      requestObjectSigningAlgValues: ['ES256', 'EdDSA', 'RS256', 'PS256'],
      dPoPSigningAlgValues: ['ES256', 'EdDSA', 'RS256', 'PS256'],
    },
    pkce: { required: () => true },
    rotateRefreshToken: () => true,
    ttl: {
      AccessToken: accessTokenTtl,
      ClientCredentials: accessTokenTtl,
      AuthorizationCode: 60,
      IdToken: 3600,
      DeviceCode: 600,
      Interaction: 3600,
      RefreshToken: refreshTtl,
      Grant: refreshTtl,
      Session: refreshTtl,
    },
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => interactionPath(interaction.uid), policy },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      // RFC 7662 for authenticated clients only (the contract): a public client learns nothing,
      // not even about its own tokens (the library's default lets it see its own).
      introspection: { enabled: true, allowedPolicy: (_ctx: unknown, client: ProviderClient) => client.clientAuthMethod !== 'none' },
      revocation: { enabled: true },
      userinfo: { enabled: true },
      deviceFlow: { enabled: true, ...sources.deviceFlow },
      pushedAuthorizationRequests: { enabled: true },
      dPoP: { enabled: true },
      backchannelLogout: { enabled: true },
      rpInitiatedLogout: { enabled: true, ...sources.rpInitiatedLogout },
      resourceIndicators: {
        enabled: true,
        // A machine client with one registered API gets tokens for it without naming it.
        defaultResource: (ctx: KoaLikeContext, client: ProviderClient, oneOf?: string[]) => {
          if (oneOf) return oneOf;
          const resources = clientResources(client);
          return ctx.oidc?.params?.grant_type === 'client_credentials' && resources.length === 1 ? resources[0] : undefined;
        },
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx: unknown, resource: string, client: ProviderClient) => {
          if (!clientResources(client).includes(resource)) throw new oidc.errors.InvalidTarget('resource not registered for this client');
          return {
            scope: ((client.keyhold_api_scopes as string[] | undefined) ?? []).join(' '),
            audience: resource,
            accessTokenTTL: accessTokenTtl,
            // RFC 9068: typ at+jwt, client_id, scope, aud = the resource.
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: deps.keys.alg } },
          };
        },
      },
    },
    extraTokenClaims: (_ctx: unknown, token: { kind: string; client?: ProviderClient }) => {
      if (token.kind === 'ClientCredentials' && token.client?.keyhold_account_id) return { account_id: token.client.keyhold_account_id };
      return undefined;
    },
    findAccount: async (ctx: KoaLikeContext | undefined, sub: string) => {
      // Often read already, with the token that names it (request-reads.ts).
      const user = existingReadsOf(ctx)?.takeAccount(sub) ?? (await findAccountFacts(db, sub));
      if (!user || !user.is_active) return undefined;
      return {
        accountId: user.id,
        claims: async () => ({
          sub: user.id,
          name: user.name,
          zoneinfo: user.timezone ?? undefined,
          updated_at: Math.floor(user.updated_at.getTime() / 1000),
          email: user.email,
          email_verified: user.email_verified_at !== null,
          account_id: user.account_id,
          account_role: user.account_role,
          role: user.role,
        }),
      };
    },
    fetch: guardedFetch({ allowInsecure: config.webhookAllowInsecureUrls }),
    renderError: sources.renderError,
  });
  provider.proxy = config.trustProxy !== false;
  provider.use(sendWhatWaits(db));
  // RFC 9068 tokens for userinfo when no resource is asked for (userinfo-tokens.ts).
  const jtiOf = await jwtForUserinfo([provider.AccessToken, provider.ClientCredentials], { issuer, userinfoUrl: `${issuer}${OIDC_PREFIX}/me`, keys: deps.keys });
  provider.use(acceptOwnJwts([`${OIDC_PREFIX}/token/introspection`, `${OIDC_PREFIX}/token/revocation`], jtiOf));
  // Secrets are stored as SHA-256 (the contract): compare the presented secret's hash, the
  // previous secret's too within its 24 hours, in constant time.
  provider.Client.prototype.compareClientSecret = function compareHashedSecret(this: ProviderClient, actual: string) {
    return secretMatches(
      {
        current: this.clientSecret ?? null,
        previous: (this.keyhold_previous_secret_hash as string | undefined) ?? null,
        previousUntilSeconds: (this.keyhold_previous_secret_until as number | undefined) ?? null,
      },
      actual,
      Math.floor(clock.now().getTime() / 1000),
    );
  };
  return provider;
}
