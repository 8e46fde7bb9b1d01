// Helpers for the OpenID Provider tests: a Keyhold with the provider on (PUBLIC_URL known
// before the start), an admin, clients registered through the admin API, and openid-client
// configured against it (plain http on loopback, which openid-client allows only when told).
import * as oidcClient from 'openid-client';
import { startTestApp, type TestApp, type TestAppOptions } from './app.js';
import type { DatabaseKind } from './database.js';
import { signIn } from './fixtures.js';
import type { PageClient, PageResponse } from './page-client.js';
import { freePort } from './ports.js';

export const ADMIN = { email: 'oidc-admin@example.com', password: 'an admin passphrase for oidc' };

export interface ProviderApp extends TestApp {
  issuer: string;
  adminToken: string;
}

export async function startProviderApp(kind: DatabaseKind, options: TestAppOptions = {}): Promise<ProviderApp> {
  const port = options.port ?? (await freePort());
  const issuer = `http://127.0.0.1:${port}`;
  const t = await startTestApp(kind, {
    ...options,
    port,
    env: {
      OIDC_PROVIDER_ENABLED: 'true',
      PUBLIC_URL: issuer,
      FRONTEND_URL: '',
      BOOTSTRAP_ADMIN_EMAIL: ADMIN.email,
      BOOTSTRAP_ADMIN_PASSWORD: ADMIN.password,
      WEBHOOK_ALLOW_INSECURE_URLS: 'true',
      OUTBOX_POLL_INTERVAL_MS: '100',
      ...options.env,
    },
  });
  const { accessToken } = await signIn(t.api, ADMIN.email, ADMIN.password);
  return Object.assign(t, { issuer, adminToken: accessToken });
}

export interface RegisteredClient {
  client_id: string;
  client_secret?: string;
  [field: string]: unknown;
}

export async function registerClient(t: ProviderApp, body: Record<string, unknown>): Promise<RegisteredClient> {
  const response = await t.api.post('/admin/oauth-clients', { name: 'Test app', scopes: ['openid'], ...body }, t.adminToken);
  if (response.status !== 201) {
    const errors = t.logs.filter((line) => line.includes('"level":50')).slice(-1);
    throw new Error(`client registration failed: ${response.status} ${JSON.stringify(response.body)} ${errors.join('')}`);
  }
  return response.body;
}

/** openid-client against the test provider, by discovery. */
export async function relyingParty(t: ProviderApp, clientId: string, auth?: oidcClient.ClientAuth, metadata: Partial<oidcClient.ClientMetadata> = {}): Promise<oidcClient.Configuration> {
  return oidcClient.discovery(new URL(t.issuer), clientId, metadata, auth ?? oidcClient.None(), { execute: [oidcClient.allowInsecureRequests] });
}

export { oidcClient };

/** An openid-client error carrying OAuth error `code`, from the body or from a WWW-Authenticate challenge. */
export const isOAuthError =
  (code: string) =>
  (err: unknown): boolean => {
    const e = err as { error?: string; cause?: unknown };
    if (e.error === code) return true;
    const challenges = Array.isArray(e.cause) ? (e.cause as Array<{ parameters?: { error?: string } }>) : [];
    return challenges.some((challenge) => challenge.parameters?.error === code);
  };

/**
 * Follows an authorization through the hosted pages without a browser (PageClient keeps the
 * cookies): allows the consent page when one is shown, and returns the URL the provider sent
 * the browser back to (the client's redirect URI), or the last page when it stopped on one.
 */
export async function followAuthorization(browser: PageClient, url: string, redirectBase: string): Promise<{ callback?: URL; page?: PageResponse }> {
  let response = await browser.get(url);
  for (let hops = 0; hops < 20; hops++) {
    if (response.location) {
      if (response.location.startsWith(redirectBase)) return { callback: new URL(response.location) };
      response = await browser.get(response.location);
      continue;
    }
    const consent = /action="(\/ui\/authorize\/[\w-]+)"/.exec(response.html);
    if (response.status === 200 && consent && response.html.includes('value="allow"')) {
      response = await browser.post(consent[1]!, { decision: 'allow' });
      continue;
    }
    return { page: response };
  }
  throw new Error('too many redirects');
}

/** A code + PKCE authorization by a signed-in PageClient, exchanged by openid-client. */
export async function codeFlow(
  rp: oidcClient.Configuration,
  browser: PageClient,
  redirectUri: string,
  params: Record<string, string> = {},
): Promise<Awaited<ReturnType<typeof oidcClient.authorizationCodeGrant>>> {
  const verifier = oidcClient.randomPKCECodeVerifier();
  const state = oidcClient.randomState();
  const url = oidcClient.buildAuthorizationUrl(rp, {
    redirect_uri: redirectUri,
    scope: 'openid email',
    code_challenge: await oidcClient.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    ...params,
  });
  const { callback, page } = await followAuthorization(browser, url.href, redirectUri);
  if (!callback) throw new Error(`the authorization stopped at a page: ${page?.status} ${page?.html.slice(0, 300)}`);
  return oidcClient.authorizationCodeGrant(rp, callback, { pkceCodeVerifier: verifier, expectedState: state });
}
