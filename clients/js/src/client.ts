// createKeyholdClient: sign-in (password, MFA step, passkeys), the stored session, one refresh
// at a time, authorised requests, sign-out, and the OpenID Connect redirect flow.
import { KeyholdError, errorFromResponse } from './errors.js';
import { createOidcFlow, type AuthorizationOptions, type OidcTokens } from './oidc.js';
import { decodeJwtPayload } from './pkce.js';
import { singleFlight } from './single-refresh.js';
import { defaultStorage, memoryStorage, readSession, webStorage, type KeyValueStorage, type StoredSession } from './storage.js';
import type { MfaChallenge, MfaVerifyBody, PasskeySignInOptions, RegisterBody, SignInReply, TokenPair, User } from './types.js';

export interface KeyholdClientOptions {
  /** The server's origin, e.g. `https://auth.example.com`. */
  baseUrl: string;
  /** The API prefix (the server's API_PREFIX). Default `/api/v1`. */
  apiPrefix?: string;
  /** Where the session lives. Default: IndexedDB in a browser (shared by its tabs), memory in Node. */
  storage?: KeyValueStorage;
  /** The storage key (and the cross-tab lock's name). Default `keyhold:session`. */
  storageKey?: string;
  /** Where the OIDC redirect flow keeps its state across the redirect. Default:
   *  sessionStorage in a browser, memory in Node. */
  transientStorage?: KeyValueStorage;
  fetch?: typeof fetch;
  /** Refresh this many seconds before the access token expires. Default 30. */
  refreshMarginSeconds?: number;
}

export type SignInResult = { status: 'signed_in'; tokens: TokenPair } | { status: 'mfa_required'; mfaToken: string; methods: MfaChallenge['methods'] };

export type KeyholdClient = ReturnType<typeof createKeyholdClient>;

export function createKeyholdClient(options: KeyholdClientOptions) {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const api = `${baseUrl}${options.apiPrefix ?? '/api/v1'}`;
  const storage = options.storage ?? defaultStorage();
  const storageKey = options.storageKey ?? 'keyhold:session';
  const http = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const marginSeconds = options.refreshMarginSeconds ?? 30;
  const session = globalThis as { sessionStorage?: Parameters<typeof webStorage>[0] };
  const oidc = createOidcFlow({
    baseUrl,
    fetch: http,
    transient: options.transientStorage ?? (session.sessionStorage ? webStorage(session.sessionStorage) : memoryStorage()),
  });

  const post = async <T>(path: string, body: unknown, bearer?: string): Promise<T> => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (bearer) headers.authorization = `Bearer ${bearer}`;
    const response = await http(`${api}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
    if (!response.ok) throw await errorFromResponse(response);
    return (response.status === 204 ? undefined : await response.json()) as T;
  };

  const save = (value: StoredSession): Promise<void> => Promise.resolve(storage.set(storageKey, JSON.stringify(value)));
  const clear = (): Promise<void> => Promise.resolve(storage.remove(storageKey));
  const saveTokens = async (tokens: TokenPair): Promise<TokenPair> => {
    await save({ access_token: tokens.access_token, refresh_token: tokens.refresh_token, refresh_with: 'api' });
    return tokens;
  };
  // Keyhold's access tokens are JWTs that say when they expire; a provider's token is kept with
  // its expires_in as well (an OAuth client must not rely on reading its access token).
  const expiresSoon = (session: StoredSession): boolean => {
    let exp = session.expires_at;
    if (exp === undefined) {
      try {
        const claim = decodeJwtPayload(session.access_token).exp;
        if (typeof claim === 'number') exp = claim;
      } catch {
        // opaque, with no recorded expiry: a 401 will tell (see fetch)
      }
    }
    return exp !== undefined && exp - marginSeconds <= Date.now() / 1000;
  };
  const expiresAt = (expiresIn: unknown): { expires_at?: number } =>
    typeof expiresIn === 'number' ? { expires_at: Math.floor(Date.now() / 1000) + expiresIn } : {};

  // The access token the caller found stale is passed in: when the stored one differs, another
  // call or tab has rotated the session meanwhile, and nothing is sent.
  let staleAccessToken: string | undefined;
  const refreshOnce = singleFlight(`${storageKey}:refresh`, async (): Promise<StoredSession> => {
    const current = await readSession(storage, storageKey);
    if (!current) throw new KeyholdError(401, 'not_signed_in', 'Not signed in');
    // Rotated by another call or tab since the caller looked: use that, send nothing. (Not
    // "and still fresh": with a skewed clock every token looks stale, and that would loop.)
    if (current.access_token !== staleAccessToken) return current;
    try {
      if (current.refresh_with === 'oidc' && current.client_id) {
        const reply = await oidc.refresh(current.client_id, current.refresh_token);
        const next: StoredSession = {
          ...current,
          ...expiresAt(reply.expires_in),
          access_token: String(reply.access_token),
          refresh_token: typeof reply.refresh_token === 'string' ? reply.refresh_token : current.refresh_token,
          ...(typeof reply.id_token === 'string' ? { id_token: reply.id_token } : {}),
        };
        await save(next);
        return next;
      }
      const tokens = await post<TokenPair>('/auth/refresh', { refresh_token: current.refresh_token });
      await saveTokens(tokens);
      return { access_token: tokens.access_token, refresh_token: tokens.refresh_token, refresh_with: 'api' };
    } catch (err) {
      // A refused refresh token will never work again: the session is over.
      if (err instanceof KeyholdError && (err.status === 400 || err.status === 401)) await clear();
      throw err;
    }
  });
  const refresh = async (stale?: string): Promise<StoredSession> => {
    staleAccessToken = stale ?? (await readSession(storage, storageKey))?.access_token;
    return refreshOnce();
  };

  const client = {
    /** Password sign-in; an MFA-enrolled user gets `mfa_required` and then calls verifyMfa. */
    async signIn(credentials: { email: string; password: string }): Promise<SignInResult> {
      const reply = await post<SignInReply>('/auth/login/json', credentials);
      if ('mfa_required' in reply) return { status: 'mfa_required', mfaToken: reply.mfa_token, methods: reply.methods };
      return { status: 'signed_in', tokens: await saveTokens(reply) };
    },

    async verifyMfa(body: MfaVerifyBody): Promise<TokenPair> {
      return saveTokens(await post<TokenPair>('/auth/mfa/verify', body));
    },

    /** The WebAuthn request options for the MFA step with a passkey (pass them to
     *  @simplewebauthn/browser's startAuthentication, then `verifyMfa({mfa_token, passkey_response})`). */
    async mfaPasskeyOptions(mfaToken: string): Promise<unknown> {
      return (await post<{ options: unknown }>('/auth/mfa/passkey/options', { mfa_token: mfaToken })).options;
    },

    /** Passkey sign-in, step 1: a challenge and the WebAuthn request options. */
    passkeySignInOptions(): Promise<PasskeySignInOptions> {
      return post<PasskeySignInOptions>('/auth/passkeys/login/options', {});
    },

    /** Passkey sign-in, step 2: the authenticator's response for that challenge. */
    async signInWithPasskey(challengeId: string, response: unknown): Promise<TokenPair> {
      return saveTokens(await post<TokenPair>('/auth/passkeys/login/verify', { challenge_id: challengeId, response }));
    },

    register(body: RegisterBody): Promise<User> {
      return post<User>('/auth/register', body);
    },

    /** A valid access token (refreshed first when it is about to expire), or null when signed out. */
    async getAccessToken(): Promise<string | null> {
      const current = await readSession(storage, storageKey);
      if (!current) return null;
      if (!expiresSoon(current)) return current.access_token;
      return (await refresh(current.access_token)).access_token;
    },

    /** Rotates the session now (one request however many callers and tabs ask at once). */
    async refresh(): Promise<void> {
      await refresh();
    },

    /** fetch with the bearer token; an expired token is refreshed and the request sent again once. */
    async fetch(path: string, init: RequestInit = {}): Promise<Response> {
      const send = (token: string | null): Promise<Response> => {
        const headers = new Headers(init.headers);
        if (token) headers.set('authorization', `Bearer ${token}`);
        return http(path.startsWith('http') ? path : `${api}${path}`, { ...init, headers });
      };
      const token = await client.getAccessToken();
      const response = await send(token);
      // A 401 for a token the client thought good (expired early, as by a skewed clock, or the
      // session's keys changed): refresh once and try again; a dead session fails the refresh.
      if (response.status !== 401 || !token) return response;
      return send((await refresh(token)).access_token);
    },

    async me(): Promise<User> {
      const response = await client.fetch('/auth/me');
      if (!response.ok) throw await errorFromResponse(response);
      return (await response.json()) as User;
    },

    /** Ends the session on the server (best effort) and forgets it here. */
    async signOut(): Promise<void> {
      const current = await readSession(storage, storageKey);
      await clear();
      if (!current) return;
      if (current.refresh_with === 'oidc' && current.client_id) return oidc.revoke(current.client_id, current.refresh_token);
      await post('/auth/logout', { refresh_token: current.refresh_token }).catch(() => undefined);
    },

    /** The OpenID Connect redirect flow (authorization code + PKCE) against Keyhold's provider. */
    oidc: {
      discover: oidc.discover,
      authorizationUrl: (authorization: AuthorizationOptions): Promise<string> => oidc.authorizationUrl(authorization),
      /** Completes the sign-in and stores the session (refreshed at the token endpoint). */
      async handleCallback(callbackUrl: string): Promise<OidcTokens> {
        const tokens = await oidc.handleCallback(callbackUrl);
        if (tokens.refresh_token === undefined) throw new KeyholdError(400, 'no_refresh_token', 'Ask for the offline_access scope to keep a session');
        await save({
          access_token: tokens.access_token,
          refresh_token: tokens.refresh_token,
          refresh_with: 'oidc',
          client_id: tokens.clientId,
          id_token: tokens.id_token,
          ...expiresAt(tokens.expires_in),
        });
        return tokens;
      },
      /** RP-initiated logout URL for the stored OIDC session (clears it here first). */
      async logoutUrl(postLogoutRedirectUri?: string): Promise<string | null> {
        const current = await readSession(storage, storageKey);
        if (!current?.client_id) return null;
        await client.signOut();
        return oidc.logoutUrl({ clientId: current.client_id, ...(current.id_token ? { idToken: current.id_token } : {}), ...(postLogoutRedirectUri ? { postLogoutRedirectUri } : {}) });
      },
    },
  };
  return client;
}
