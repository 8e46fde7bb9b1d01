// OIDC connections: 0.1's generic providers (openid-client: authorization code with PKCE S256,
// state and nonce, the ID token checked against the issuer's keys), configured per account at
// run time. The email is believed only on the account's verified domains (sso-sign-in.ts).
// The issuer is typed in by a customer's admin, so every request of a connection (discovery,
// token, JWKS, userinfo) goes through the webhooks' URL guard as openid-client's customFetch:
// a public address only, pinned at connect time, no redirects, a size cap and a timeout.
import type * as oidc from 'openid-client';
import type { AppContext } from '../../context.js';
import type { SsoConnectionRow } from '../../db/schema.js';
import { isValidEmail, normalizeEmail } from '../../lib/email-address.js';
import { Errors } from '../../lib/errors.js';
import { hashSecret } from '../../lib/random.js';
import { singleLine } from '../../lib/plain-text.js';
import { guardedFetch } from '../webhooks/guarded-fetch.js';
import { describeProviderError, isProviderUnreachable, openIdClient } from '../oauth/providers.js';
import { oidcConfig, oidcRedirectUri, openSecrets, type OidcSecrets } from './connection-config.js';

const DISCOVERY_TTL_MS = 10 * 60 * 1000;
const PROVIDER_TIMEOUT_SECONDS = 10;

/** Discovery per connection, reused until the connection changes or ten minutes pass. */
const discoveries = new Map<string, { key: string; expiresAt: number; configuration: Promise<oidc.Configuration> }>();

async function configurationOf(ctx: Pick<AppContext, 'secrets' | 'log' | 'config'>, row: SsoConnectionRow): Promise<oidc.Configuration> {
  const key = `${row.updated_at.getTime()}`;
  const cached = discoveries.get(row.id);
  if (cached && cached.key === key && cached.expiresAt > Date.now()) return cached.configuration;
  const config = oidcConfig(row);
  const { client_secret } = openSecrets<OidcSecrets>(ctx, row);
  const client = await openIdClient();
  const configuration = client
    .discovery(new URL(config.issuer), config.client_id, client_secret, undefined, {
      timeout: PROVIDER_TIMEOUT_SECONDS,
      // Kept by the Configuration for the token, JWKS and userinfo requests too.
      [client.customFetch]: guardedFetch({ allowInsecure: ctx.config.webhookAllowInsecureUrls }),
    })
    .catch((err: unknown) => {
      discoveries.delete(row.id);
      ctx.log.warn({ connection: row.id, reason: describeProviderError(err) }, 'SSO OIDC discovery failed');
      throw Errors.oauthProviderUnavailable();
    });
  configuration.catch(() => {});
  discoveries.set(row.id, { key, expiresAt: Date.now() + DISCOVERY_TTL_MS, configuration });
  return configuration;
}

export async function oidcAuthorizeUrl(
  ctx: Pick<AppContext, 'secrets' | 'log' | 'config'>,
  row: SsoConnectionRow,
  loginHint: string | undefined,
): Promise<{ url: string; requestKey: string; codeVerifier: string; nonce: string }> {
  const configuration = await configurationOf(ctx, row);
  const client = await openIdClient();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const codeVerifier = client.randomPKCECodeVerifier();
  const url = client.buildAuthorizationUrl(configuration, {
    response_type: 'code',
    redirect_uri: oidcRedirectUri(ctx.config),
    scope: [...new Set(['openid', ...oidcConfig(row).scopes])].join(' '),
    state,
    nonce,
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    ...(loginHint ? { login_hint: loginHint } : {}),
  });
  return { url: url.href, requestKey: oidcRequestKey(state), codeVerifier, nonce };
}

/** The flow is found by the hash of the provider-facing state. */
export const oidcRequestKey = (state: string): string => `oidc:${hashSecret(state)}`;

export interface OidcIdentity {
  subject: string;
  email: string | null;
  name: string | null;
  multiFactor: boolean;
}

/** RFC 8176 values (and common acr values) that mean more than one factor. */
const MFA_AMR = new Set(['mfa', 'otp', 'hwk', 'sms', 'swk', 'fido', 'sc', 'tel']);
const MFA_ACR = /mfa|multi|phr|phrh|aal2|aal3|silver|gold/i;

export interface OidcExchange {
  row: SsoConnectionRow;
  /** The callback's query. */
  query: { code: string; state: string; iss?: string };
  flow: { code_verifier: string | null; nonce: string | null };
}

export async function oidcExchange(ctx: Pick<AppContext, 'secrets' | 'log' | 'config'>, { row, query, flow }: OidcExchange): Promise<OidcIdentity> {
  const configuration = await configurationOf(ctx, row);
  const client = await openIdClient();
  const callbackUrl = new URL(oidcRedirectUri(ctx.config));
  callbackUrl.searchParams.set('code', query.code);
  callbackUrl.searchParams.set('state', query.state);
  if (query.iss !== undefined) callbackUrl.searchParams.set('iss', query.iss);
  try {
    const tokens = await client.authorizationCodeGrant(configuration, callbackUrl, {
      pkceCodeVerifier: flow.code_verifier ?? '',
      expectedNonce: flow.nonce ?? '',
      expectedState: query.state,
      idTokenExpected: true,
    });
    const claims = tokens.claims();
    if (!claims) throw new Error('no ID token');
    let profile: Record<string, unknown> = claims;
    if (typeof claims.email !== 'string' && configuration.serverMetadata().userinfo_endpoint) {
      profile = { ...(await client.fetchUserInfo(configuration, tokens.access_token, claims.sub)), ...claims };
    }
    const email = typeof profile.email === 'string' && isValidEmail(profile.email) ? normalizeEmail(profile.email) : null;
    const amr = Array.isArray(claims.amr) ? claims.amr.filter((v): v is string => typeof v === 'string') : [];
    const name = typeof profile.name === 'string' ? singleLine(profile.name) || null : null;
    return {
      subject: claims.sub,
      email,
      name: name ? [...name].slice(0, 200).join('') : null,
      multiFactor: amr.some((v) => MFA_AMR.has(v)) || (typeof claims.acr === 'string' && MFA_ACR.test(claims.acr)),
    };
  } catch (err) {
    ctx.log.warn({ connection: row.id, reason: describeProviderError(err) }, 'SSO OIDC sign-in failed');
    throw isProviderUnreachable(err) ? Errors.oauthProviderUnavailable() : Errors.ssoFailed();
  }
}
