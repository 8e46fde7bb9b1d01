// The authorization code grant with openid-client, and what Keyhold takes from its answer.
import type * as oidc from 'openid-client';
import type { OidcProviderConfig } from '../../config.js';
import type { AppContext } from '../../context.js';
import { isValidEmail, normalizeEmail } from '../../lib/email-address.js';
import { singleLine } from '../../lib/plain-text.js';
import { describeProviderError, isProviderUnreachable, openIdClient } from './providers.js';
import { Errors } from '../../lib/errors.js';

/** Who the provider says signed in. Only `subject` is stable; the rest may change at the provider. */
export interface ProviderIdentity {
  provider: string;
  subject: string;
  email: string | null;
  /**
   * The address is proven: the provider is trusted for email (OidcProviderConfig.trustEmail)
   * and says `email_verified: true`. Only then may it link an existing user or start a new
   * one verified; an untrusted provider's claim counts for nothing.
   */
  emailVerified: boolean;
  name: string | null;
}

export interface AuthorizationResponse {
  code: string;
  state: string;
  iss?: string;
}

/** The server-side half of the flow, kept since /authorize. */
export interface PendingFlow {
  code_verifier: string;
  nonce: string;
}

const MAX_NAME_LENGTH = 200;

/**
 * Exchanges the code (with the PKCE verifier) and verifies the ID token: signature against the
 * provider's JWKS, exact issuer (Entra ID's tenant template resolved from `tid`), audience =
 * our client id, expiry, and the nonce sent with this very flow. RFC 9207 `iss` is checked when
 * present, and required when the provider advertises it.
 */
export async function exchangeCode(
  ctx: Pick<AppContext, 'log'>,
  relyingParty: { provider: OidcProviderConfig; configuration: oidc.Configuration; redirectUri: URL },
  callback: { response: AuthorizationResponse; flow: PendingFlow },
): Promise<ProviderIdentity> {
  const { provider, configuration, redirectUri } = relyingParty;
  const { response, flow } = callback;
  // openid-client reads the authorization response from the URL the provider redirected to, and
  // sends that URL without its query as the token request's redirect_uri.
  const callbackUrl = new URL(redirectUri.href);
  callbackUrl.searchParams.set('code', response.code);
  callbackUrl.searchParams.set('state', response.state);
  if (response.iss !== undefined) callbackUrl.searchParams.set('iss', response.iss);

  const client = await openIdClient();
  try {
    const tokens = await client.authorizationCodeGrant(configuration, callbackUrl, {
      pkceCodeVerifier: flow.code_verifier,
      expectedNonce: flow.nonce,
      expectedState: response.state,
      idTokenExpected: true,
    });
    const claims = tokens.claims();
    if (!claims) throw new Error('no ID token');
    let identity = identityFromClaims(provider, claims);
    // Some providers put profile claims only in the UserInfo response (as OpenID Connect allows
    // for the code flow). openid-client checks that its `sub` is the ID token's.
    if (identity.email === null && configuration.serverMetadata().userinfo_endpoint) {
      const userinfo = await client.fetchUserInfo(configuration, tokens.access_token, claims.sub);
      identity = { ...identityFromClaims(provider, { ...userinfo, sub: claims.sub }), name: identity.name ?? displayName(userinfo) };
    }
    return identity;
  } catch (err) {
    ctx.log.warn({ provider: provider.name, reason: describeProviderError(err) }, 'OAuth sign-in failed');
    throw isProviderUnreachable(err) ? Errors.oauthProviderUnavailable() : Errors.oauthSignInFailed();
  }
}

function identityFromClaims(provider: OidcProviderConfig, claims: Record<string, unknown> & { sub: string }): ProviderIdentity {
  const email = typeof claims.email === 'string' && isValidEmail(claims.email) ? normalizeEmail(claims.email) : null;
  // Some providers send the boolean as a string.
  const claimsVerified = claims.email_verified === true || claims.email_verified === 'true';
  return {
    provider: provider.name,
    subject: claims.sub,
    email,
    emailVerified: provider.trustEmail && email !== null && claimsVerified,
    name: displayName(claims),
  };
}

/** The provider's name for the person, held to the same rule as a typed name: one line, no
 *  control or bidi-override characters (they would reach emails and other users' screens). */
function displayName(claims: Record<string, unknown>): string | null {
  const text = (value: unknown) => (typeof value === 'string' && singleLine(value) ? singleLine(value) : null);
  const joined = [text(claims.given_name), text(claims.family_name)].filter(Boolean).join(' ');
  const name = text(claims.name) ?? (joined || null);
  return name ? [...name].slice(0, MAX_NAME_LENGTH).join('') : null;
}
