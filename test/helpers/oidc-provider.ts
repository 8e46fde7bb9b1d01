// A real OpenID provider (oidc-provider) on loopback over HTTPS, standing in for Google,
// Microsoft and generic providers, plus a scripted "browser" that signs in at it.
//
// TLS: openid-client only talks HTTPS (rightly), so the server gets a self-signed certificate
// made here with node:crypto. Node 20 has no API to add a trust anchor to fetch at run time, so
// `trustTestServer()` wraps the global fetch for this process: requests to the test server's
// origin (and to origins it stands in for, such as https://login.microsoftonline.com) go through
// https.request with that certificate as the only CA; every other request is untouched. SSO
// connections fetch through the URL guard (https.request, not fetch), so the same call also adds
// the certificate to https.globalAgent's CAs, beside the system's. The service code needs no
// test switch and never allows insecure requests (the guard's loopback allowance is the
// webhooks' WEBHOOK_ALLOW_INSECURE_URLS, which those tests set).
import { randomBytes } from 'node:crypto';
import { selfSignedCertificate } from './certificate.js';
import { createServer, globalAgent, request as httpsRequest, type Server } from 'node:https';
import { rootCertificates } from 'node:tls';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type KeyLike as CryptoKey } from 'jose';
// @ts-expect-error -- oidc-provider ships no type declarations; the little used here is typed below.
import ProviderModule from 'oidc-provider';

export interface TestAccount {
  sub: string;
  email?: string;
  email_verified?: boolean;
  name?: string;
  /** Microsoft's tenant id claim. */
  tid?: string;
}

export interface TestIssuerOptions {
  /** Where the issuer is mounted on the test server, e.g. '/google'. */
  path: string;
  /** The issuer identifier; default: the server origin + path. */
  issuer?: string;
  clients: Array<{ clientId: string; clientSecret?: string }>;
  redirectUris: string[];
  /**
   * Where profile claims go. 'id_token' (like Google and Microsoft) or 'userinfo' (oidc-provider's
   * default for the code flow, allowed by OpenID Connect).
   */
  claimsIn?: 'id_token' | 'userinfo';
}

/** What a test may make the provider do instead of answering normally. */
export type Intercept =
  | { kind: 'drop' } // the connection is cut: the provider is down
  | { kind: 'reply'; status: number; body: unknown };

// --- oidc-provider, the part of its API used here ------------------------------------------

interface OidcProvider {
  issuer: string;
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
  interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<{ params: Record<string, unknown> }>;
  interactionFinished(req: IncomingMessage, res: ServerResponse, result: unknown, options?: { mergeWithLastSubmission?: boolean }): Promise<void>;
  Grant: new (init: { accountId: string; clientId: string }) => { addOIDCScope(scope: string): void; save(): Promise<string> };
}
const Provider = ProviderModule as new (issuer: string, configuration: Record<string, unknown>) => OidcProvider;

export class TestIssuer {
  readonly accounts = new Map<string, TestAccount>();
  /** Answers the token endpoint instead of the provider while set. */
  tokenIntercept: Intercept | ((form: URLSearchParams) => Promise<Intercept>) | null = null;
  /** Cuts every connection to this issuer while true. */
  down = false;
  /** Who signs in at the login page when the browser does not say (?login=): for a real browser. */
  loginAs: string | null = null;

  constructor(
    readonly path: string,
    readonly provider: OidcProvider,
    private readonly signingKey: { privateKey: CryptoKey; kid: string },
  ) {}

  get issuer(): string {
    return this.provider.issuer;
  }

  addAccount(account: TestAccount): TestAccount {
    this.accounts.set(account.sub, account);
    return account;
  }

  /** An ID token signed with this issuer's real key (or `key`), for tests that play a misbehaving provider. */
  async signIdToken(claims: Record<string, unknown>, key?: CryptoKey): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ iat: now, exp: now + 300, ...claims })
      .setProtectedHeader({ alg: 'RS256', kid: this.signingKey.kid })
      .sign(key ?? this.signingKey.privateKey);
  }
}

export class TestOpenIdServer {
  private readonly issuers: TestIssuer[] = [];
  private readonly routes = new Map<string, (req: IncomingMessage, res: ServerResponse) => Promise<void>>();
  private readonly aliases = new Set<string>();

  private constructor(
    private readonly server: Server,
    readonly origin: string,
    /** PEM of the server's self-signed certificate: the only CA trusted for it. */
    readonly certificate: string,
  ) {}

  static async start(): Promise<TestOpenIdServer> {
    const { key, cert } = selfSignedCertificate({ commonName: 'Keyhold test OpenID provider', keyType: 'ec', ip: '127.0.0.1' });
    let self: TestOpenIdServer | undefined;
    const server = createServer({ key, cert }, (req, res) => {
      self!.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(String(err));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    self = new TestOpenIdServer(server, `https://127.0.0.1:${port}`, cert);
    return self;
  }

  async addIssuer(options: TestIssuerOptions): Promise<TestIssuer> {
    const { privateKey } = await generateKeyPair('RS256', { extractable: true });
    const kid = randomBytes(8).toString('hex');
    const jwk: JWK = { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };
    let issuer: TestIssuer | undefined;
    const provider = new Provider(options.issuer ?? `${this.origin}${options.path}`, {
      clients: options.clients.map((client) => ({
        client_id: client.clientId,
        client_secret: client.clientSecret,
        redirect_uris: options.redirectUris,
        response_types: ['code'],
        grant_types: ['authorization_code'],
        token_endpoint_auth_method: client.clientSecret ? 'client_secret_post' : 'none',
      })),
      jwks: { keys: [jwk] },
      cookies: { keys: [randomBytes(16).toString('hex')] },
      claims: { openid: ['sub', 'tid'], email: ['email', 'email_verified'], profile: ['name'] },
      conformIdTokenClaims: options.claimsIn === 'userinfo',
      findAccount: async (_ctx: unknown, sub: string) => {
        const account = issuer!.accounts.get(sub);
        return account && { accountId: sub, claims: async () => ({ ...account }) };
      },
      features: { devInteractions: { enabled: false } },
      interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `${options.path}/interaction/${interaction.uid}` },
      // Every client must use PKCE: a flow that forgets the verifier fails here.
      pkce: { required: () => true },
      ttl: { AuthorizationCode: 60, AccessToken: 600, IdToken: 600, Grant: 600, Interaction: 600, Session: 600 },
    });
    issuer = new TestIssuer(options.path, provider, { privateKey, kid });
    this.issuers.push(issuer);
    return issuer;
  }

  /** Serves `path` with a handler of the test's own (e.g. a provider-specific discovery document). */
  route(path: string, handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>): void {
    this.routes.set(path, handler);
  }

  /** Requests to `origin` (say https://login.microsoftonline.com) are answered by this server. */
  standIn(origin: string): void {
    this.aliases.add(new URL(origin).origin);
  }

  /** Installs the trusting fetch for this process; returns the function that removes it. */
  trustTestServer(): () => void {
    const original = globalThis.fetch;
    const routed = new Set([this.origin, ...this.aliases]);
    globalThis.fetch = (async (input: string | URL | Request, init?: RequestInit) => {
      const request = new Request(input, init);
      const url = new URL(request.url);
      if (!routed.has(url.origin)) return original(input, init);
      return fetchOverHttps(new URL(`${url.pathname}${url.search}`, this.origin), request, this.certificate);
    }) as typeof fetch;
    const originalCa = globalAgent.options.ca;
    globalAgent.options.ca = [...rootCertificates, this.certificate];
    return () => {
      globalThis.fetch = original;
      globalAgent.options.ca = originalCa;
    };
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.origin);
    const route = this.routes.get(url.pathname);
    if (route) return route(req, res);

    const issuer = this.issuers.find((candidate) => url.pathname.startsWith(`${candidate.path}/`));
    if (!issuer) {
      res.writeHead(404).end();
      return;
    }
    if (issuer.down) {
      req.socket.destroy();
      return;
    }
    const rest = url.pathname.slice(issuer.path.length);
    if (rest.startsWith('/interaction/')) return signIn(issuer, req, res, url);
    if (rest === '/token' && req.method === 'POST' && issuer.tokenIntercept) {
      const form = new URLSearchParams(await readBody(req));
      const intercept = typeof issuer.tokenIntercept === 'function' ? await issuer.tokenIntercept(form) : issuer.tokenIntercept;
      if (intercept.kind === 'drop') {
        req.socket.destroy();
        return;
      }
      res.writeHead(intercept.status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(intercept.body));
      return;
    }
    // Mounted below its path: oidc-provider works out its mount point from originalUrl.
    (req as IncomingMessage & { originalUrl?: string }).originalUrl = req.url;
    req.url = `${rest}${url.search}`;
    issuer.provider.callback()(req, res);
  }
}

/** The login (and consent) page: signs in the account the "browser" names with ?login=<sub>. */
async function signIn(issuer: TestIssuer, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const accountId = url.searchParams.get('login') ?? issuer.loginAs ?? '';
  if (!issuer.accounts.has(accountId)) {
    res.writeHead(400, { 'content-type': 'text/plain' }).end(`unknown test account "${accountId}"`);
    return;
  }
  const details = await issuer.provider.interactionDetails(req, res);
  const grant = new issuer.provider.Grant({ accountId, clientId: String(details.params.client_id) });
  grant.addOIDCScope(String(details.params.scope));
  const grantId = await grant.save();
  await issuer.provider.interactionFinished(req, res, { login: { accountId }, consent: { grantId } }, { mergeWithLastSubmission: false });
}

/**
 * The user's browser: opens the authorization URL, signs in as `sub` at the provider's login
 * page, follows redirects (keeping cookies) and returns the authorization response the
 * provider sends to `redirectUri`.
 */
export async function signInAtProvider(authorizationUrl: string, sub: string, redirectUri: string): Promise<URLSearchParams> {
  const cookies = new Map<string, string>();
  let next = new URL(authorizationUrl);
  for (let hop = 0; hop < 10; hop++) {
    if (`${next.origin}${next.pathname}` === redirectUri) return next.searchParams;
    if (/\/interaction\/[^/]+$/.test(next.pathname)) next.searchParams.set('login', sub);
    const response = await fetch(next, {
      redirect: 'manual',
      headers: { cookie: [...cookies].map(([name, value]) => `${name}=${value}`).join('; ') },
    });
    for (const header of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = header.split(';');
      const name = pair.slice(0, pair.indexOf('='));
      const value = pair.slice(pair.indexOf('=') + 1);
      const expired = attributes.some((a) => /^\s*expires=/i.test(a) && Date.parse(a.split('=')[1]!) < Date.now());
      if (expired || value === '') cookies.delete(name);
      else cookies.set(name, value);
    }
    const location = response.headers.get('location');
    if (response.status < 300 || response.status >= 400 || !location) {
      throw new Error(`provider answered ${response.status}: ${await response.text()}`);
    }
    next = new URL(location, next);
  }
  throw new Error('too many redirects at the provider');
}

// --- plumbing ---------------------------------------------------------------------------------

async function fetchOverHttps(url: URL, request: Request, ca: string): Promise<Response> {
  const body = request.body ? Buffer.from(await request.arrayBuffer()) : undefined;
  return new Promise((resolve, reject) => {
    const outgoing = httpsRequest(
      url,
      { method: request.method, headers: Object.fromEntries(request.headers), ca, signal: request.signal },
      (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
        incoming.on('error', (err) => reject(new TypeError('fetch failed', { cause: err })));
        incoming.on('end', () => {
          const headers = new Headers();
          for (let i = 0; i < incoming.rawHeaders.length; i += 2) headers.append(incoming.rawHeaders[i]!, incoming.rawHeaders[i + 1]!);
          const status = incoming.statusCode ?? 500;
          const nullBody = [101, 204, 205, 304].includes(status);
          resolve(new Response(nullBody ? null : Buffer.concat(chunks), { status, headers }));
        });
      },
    );
    // What fetch itself throws for a network failure: openid-client and the service see the real thing.
    outgoing.on('error', (err) => reject(new TypeError('fetch failed', { cause: err })));
    outgoing.end(body);
  });
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (text += chunk));
    req.on('end', () => resolve(text));
    req.on('error', reject);
  });
}
