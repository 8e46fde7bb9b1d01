// oidc-provider ships no type declarations; this is the part of its API Keyhold uses.
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface KoaLikeContext {
  req: IncomingMessage;
  is(type: string): string | false | null;
  method: string;
  path: string;
  status: number;
  cookies: { get(name: string, options?: { signed?: boolean }): string | undefined };
  oidc?: {
    route?: string;
    client?: ProviderClient;
    session?: { jti: string; accountId?: string; acr?: string; authorizations?: Record<string, { sid?: string; grantId?: string }> };
    result?: Record<string, unknown> & { keyhold?: { sessionId?: string } };
    params?: Record<string, unknown>;
  };
}

export interface ProviderClient {
  clientId: string;
  clientSecret?: string;
  backchannelLogoutUri?: string;
  backchannelLogout(sub: string, sid: string): Promise<void>;
  [extra: string]: unknown;
}

export interface InteractionDetails {
  uid: string;
  exp: number;
  iat?: number;
  prompt: { name: 'login' | 'consent' | string; reasons: string[]; details: Record<string, unknown> };
  params: Record<string, string | undefined> & { client_id: string; redirect_uri?: string; scope?: string };
  session?: { accountId: string; uid: string; cookie: string };
  grantId?: string;
  lastSubmission?: Record<string, unknown>;
}

export interface ProviderGrant {
  jti: string;
  accountId: string;
  clientId: string;
  addOIDCScope(scope: string): void;
  addOIDCClaims(claims: string[]): void;
  addResourceScope(resource: string, scope: string): void;
  save(): Promise<string>;
  destroy(): Promise<void>;
}

export interface OidcProvider {
  issuer: string;
  proxy: boolean;
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
  use(middleware: (ctx: KoaLikeContext, next: () => Promise<void>) => Promise<void>): void;
  on(event: string, listener: (...args: unknown[]) => void): void;
  interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<InteractionDetails>;
  interactionResult(req: IncomingMessage, res: ServerResponse, result: unknown, options?: { mergeWithLastSubmission?: boolean }): Promise<string>;
  Grant: { new (init: { accountId: string; clientId: string }): ProviderGrant; find(id: string): Promise<ProviderGrant | undefined> };
  Client: { find(id: string): Promise<ProviderClient | undefined>; prototype: { compareClientSecret(this: ProviderClient, actual: string): Promise<boolean> | boolean } };
  /** Token models (userinfo-tokens.ts gives the ones without a resource their JWT form). */
  AccessToken: TokenModel;
  ClientCredentials: TokenModel;
  Session: { find(id: string): Promise<{ jti: string; accountId?: string; authorizations?: Record<string, { sid?: string }> } | undefined> };
}

/**
 * The hosted pages' look for the provider's own pages (the device flow's and logout's): given
 * by modules/hosted-ui/provider-pages.ts, so this module does not depend on the pages' folder.
 */
export interface ProviderPages {
  /** The page `view` with the pages' layout, and the Content-Security-Policy it is served with. */
  render(view: string, data: { title: string; [key: string]: unknown }, formTarget?: string): Promise<{ html: string; policy: string }>;
}

export interface TokenModel {
  prototype: { getValueAndPayload(this: { resourceServer?: unknown }): Promise<{ value: string; payload?: Record<string, unknown> }> };
  find(value: string, ...rest: unknown[]): Promise<unknown>;
}
