// OAuth / OpenID Connect sign-in: GET /auth/{provider}/authorize and POST /auth/{provider}/callback.
// Authorization code flow with PKCE (S256), state and nonce; the server keeps its half of each
// flow in oauth_states (hashed state, single use, ten minutes, bound to provider and redirect_uri).
import type { AppContext, RequestMeta } from '../../context.js';
import { addSeconds } from '../../lib/clock.js';
import { Errors } from '../../lib/errors.js';
import { hashSecret } from '../../lib/random.js';
import type { SignInResult } from '../auth/sign-in.js';
import { exchangeCode } from './code-exchange.js';
import { consumeOAuthState, deleteExpiredOAuthStates, insertOAuthState } from './oauth.repo.js';
import type { AuthorizeResponse, CallbackBody } from './oauth.schemas.js';
import { openIdClient, type OAuthProviders } from './providers.js';
import { signInWithIdentity } from './sign-in.js';

const STATE_LIFETIME_SECONDS = 10 * 60;

export interface StartAuthorization {
  providerName: string;
  /** As the caller sent it; only one the operator listed is accepted. */
  redirectUriInput: string;
}

export interface CompleteAuthorization {
  providerName: string;
  input: CallbackBody;
  meta: RequestMeta;
}

export async function startAuthorization(
  ctx: AppContext,
  providers: OAuthProviders,
  { providerName, redirectUriInput }: StartAuthorization,
): Promise<AuthorizeResponse> {
  const provider = providers.get(providerName);
  const redirectUri = allowedRedirectUri(ctx, redirectUriInput);
  const configuration = await providers.configuration(provider);
  const oidc = await openIdClient();

  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const codeVerifier = oidc.randomPKCECodeVerifier();
  const now = ctx.clock.now();
  await deleteExpiredOAuthStates(ctx.db, now);
  await insertOAuthState(ctx.db, {
    stateHash: hashSecret(state),
    provider: provider.name,
    codeVerifier,
    nonce,
    redirectUri: redirectUriInput,
    expiresAt: addSeconds(now, STATE_LIFETIME_SECONDS),
  });

  const url = oidc.buildAuthorizationUrl(configuration, {
    response_type: 'code',
    redirect_uri: redirectUri.href,
    // An ID token is the point of the exercise, whatever scopes the operator listed.
    scope: [...new Set(['openid', ...provider.scopes])].join(' '),
    state,
    nonce,
    code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
  });
  return { authorization_url: url.href, state };
}

export async function completeAuthorization(
  ctx: AppContext,
  providers: OAuthProviders,
  { providerName, input, meta }: CompleteAuthorization,
): Promise<SignInResult> {
  const provider = providers.get(providerName);
  const redirectUri = allowedRedirectUri(ctx, input.redirect_uri);
  // Discovery first (it is cached): a provider outage then costs the user no state.
  const configuration = await providers.configuration(provider);

  const flow = await consumeOAuthState(ctx.db, {
    stateHash: hashSecret(input.state),
    provider: provider.name,
    redirectUri: input.redirect_uri,
    now: ctx.clock.now(),
  });
  if (!flow) throw Errors.invalidOAuthState();

  // The provider round trip happens outside any transaction: no lock waits on the network.
  const identity = await exchangeCode(ctx, { provider, configuration, redirectUri }, { response: input, flow });
  return signInWithIdentity(ctx, { identity, invites: { invite_code: input.invite_code, account_invite_code: input.account_invite_code }, meta });
}

/**
 * Only redirect URIs the operator listed, compared exactly: anything else would let a forged
 * link send the user's code to someone else. One with a query string or fragment cannot work
 * (the token request repeats the callback URL without its query), so it is refused too.
 */
function allowedRedirectUri(ctx: AppContext, uri: string): URL {
  if (!ctx.config.oauthRedirectUris.includes(uri)) throw Errors.invalidRedirectUri();
  const url = new URL(uri);
  if (url.search || url.hash) throw Errors.invalidRedirectUri();
  return url;
}
