// The OpenID Connect redirect flow against Keyhold's provider (authorization code + PKCE,
// S256), for SPAs and native apps that sign in through Keyhold's hosted pages.
//
// The ID token comes straight from the token endpoint over the connection the client opened
// itself, so, as OpenID Connect Core §3.1.3.7 allows, its issuer is established by that
// connection (TLS in production) rather than by its signature, and no JOSE library is bundled:
// the client checks `iss`, `aud`, `nonce` and `exp`. Services that receive tokens from others
// verify signatures (@keyhold/verify).
import { KeyholdError, errorFromResponse } from './errors.js';
import { decodeJwtPayload, randomToken, s256Challenge } from './pkce.js';
import type { KeyValueStorage } from './storage.js';

export interface ProviderMetadata {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  revocation_endpoint?: string;
  end_session_endpoint?: string;
}

export interface AuthorizationOptions {
  clientId: string;
  redirectUri: string;
  /** Default `openid profile email offline_access`. */
  scope?: string;
  /** RFC 8707: the API the access token is for (one of the client's registered resources). */
  resource?: string;
  prompt?: 'none' | 'login' | 'consent';
  loginHint?: string;
  acrValues?: string;
}

/** What a redirect carries across the round trip to the provider (kept in transient storage). */
interface PendingAuthorization {
  clientId: string;
  redirectUri: string;
  verifier: string;
  nonce: string;
}

export interface OidcTokens {
  access_token: string;
  refresh_token?: string;
  id_token: string;
  expires_in?: number;
  scope?: string;
  token_type: string;
  /** The ID token's claims, checked as described above. */
  claims: Record<string, unknown>;
}

const PENDING_PREFIX = 'keyhold:oidc:';
const CLOCK_SKEW_SECONDS = 60;

export function createOidcFlow(deps: { baseUrl: string; fetch: typeof fetch; transient: KeyValueStorage }) {
  let metadata: Promise<ProviderMetadata> | undefined;
  const discover = (): Promise<ProviderMetadata> => {
    metadata ??= (async () => {
      const response = await deps.fetch(`${deps.baseUrl}/.well-known/openid-configuration`);
      if (!response.ok) throw await errorFromResponse(response);
      return (await response.json()) as ProviderMetadata;
    })().catch((err: unknown) => {
      metadata = undefined;
      throw err;
    });
    return metadata;
  };

  const tokenRequest = async (form: Record<string, string>): Promise<Record<string, unknown>> => {
    const { token_endpoint } = await discover();
    const response = await deps.fetch(token_endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
    });
    if (!response.ok) throw await errorFromResponse(response);
    return (await response.json()) as Record<string, unknown>;
  };

  return {
    discover,

    /** The URL to send the browser to; remembers the PKCE verifier and nonce under `state`. */
    async authorizationUrl(options: AuthorizationOptions): Promise<string> {
      const { authorization_endpoint } = await discover();
      const state = randomToken();
      const pending: PendingAuthorization = { clientId: options.clientId, redirectUri: options.redirectUri, verifier: randomToken(48), nonce: randomToken() };
      await deps.transient.set(PENDING_PREFIX + state, JSON.stringify(pending));
      const url = new URL(authorization_endpoint);
      const params: Record<string, string | undefined> = {
        response_type: 'code',
        client_id: options.clientId,
        redirect_uri: options.redirectUri,
        scope: options.scope ?? 'openid profile email offline_access',
        state,
        nonce: pending.nonce,
        code_challenge: await s256Challenge(pending.verifier),
        code_challenge_method: 'S256',
        resource: options.resource,
        prompt: options.prompt,
        login_hint: options.loginHint,
        acr_values: options.acrValues,
      };
      for (const [name, value] of Object.entries(params)) if (value !== undefined) url.searchParams.set(name, value);
      return url.toString();
    },

    /** Completes the sign-in from the URL the provider redirected back to. */
    async handleCallback(callbackUrl: string): Promise<OidcTokens & { clientId: string }> {
      const params = new URL(callbackUrl).searchParams;
      const state = params.get('state') ?? '';
      const stored = await deps.transient.get(PENDING_PREFIX + state);
      // Single use: whatever happens next, this state cannot be completed twice.
      await deps.transient.remove(PENDING_PREFIX + state);
      if (!state || !stored) throw new KeyholdError(400, 'invalid_state', 'Unknown or already used state');
      const error = params.get('error');
      if (error) throw new KeyholdError(400, error, params.get('error_description') ?? error);
      const pending = JSON.parse(stored) as PendingAuthorization;
      const { issuer } = await discover();
      // RFC 9207: a response naming another issuer is a mix-up attack.
      const iss = params.get('iss');
      if (iss !== null && iss !== issuer) throw new KeyholdError(400, 'invalid_issuer', 'The response came from another issuer');
      const reply = await tokenRequest({
        grant_type: 'authorization_code',
        code: params.get('code') ?? '',
        redirect_uri: pending.redirectUri,
        client_id: pending.clientId,
        code_verifier: pending.verifier,
      });
      const claims = checkIdToken(reply.id_token, { issuer, clientId: pending.clientId, nonce: pending.nonce });
      return { ...(reply as unknown as OidcTokens), claims, clientId: pending.clientId };
    },

    refresh(clientId: string, refreshToken: string): Promise<Record<string, unknown>> {
      return tokenRequest({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId });
    },

    /** Revokes a refresh token (RFC 7009); a failure is not the caller's problem at sign-out. */
    async revoke(clientId: string, refreshToken: string): Promise<void> {
      const { revocation_endpoint } = await discover();
      if (!revocation_endpoint) return;
      await deps
        .fetch(revocation_endpoint, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ token: refreshToken, token_type_hint: 'refresh_token', client_id: clientId }).toString(),
        })
        .catch(() => undefined);
    },

    /** RP-initiated logout: the URL that ends the hosted-pages session too. */
    async logoutUrl(options: { idToken?: string; clientId: string; postLogoutRedirectUri?: string }): Promise<string | null> {
      const { end_session_endpoint } = await discover();
      if (!end_session_endpoint) return null;
      const url = new URL(end_session_endpoint);
      url.searchParams.set('client_id', options.clientId);
      if (options.idToken) url.searchParams.set('id_token_hint', options.idToken);
      if (options.postLogoutRedirectUri) url.searchParams.set('post_logout_redirect_uri', options.postLogoutRedirectUri);
      return url.toString();
    },
  };
}

function checkIdToken(idToken: unknown, expected: { issuer: string; clientId: string; nonce: string }): Record<string, unknown> {
  if (typeof idToken !== 'string') throw new KeyholdError(400, 'invalid_id_token', 'The token endpoint sent no ID token');
  const claims = decodeJwtPayload(idToken);
  const audience = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  const now = Date.now() / 1000;
  const problems = [
    claims.iss !== expected.issuer && 'iss',
    !audience.includes(expected.clientId) && 'aud',
    claims.nonce !== expected.nonce && 'nonce',
    !(typeof claims.exp === 'number' && claims.exp + CLOCK_SKEW_SECONDS > now) && 'exp',
  ].filter(Boolean);
  if (problems.length > 0) throw new KeyholdError(400, 'invalid_id_token', `ID token check failed: ${problems.join(', ')}`);
  return claims;
}
