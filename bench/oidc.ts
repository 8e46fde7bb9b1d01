// The OpenID Provider's throughput per server core-second, on PostgreSQL, beside the floors of
// issue 27: client-credentials grants >= 1,000; code exchange with an ID token >= 400; provider
// refresh >= 1,000; userinfo within 1.5x of GET /auth/me (CPU per request).
//
//   npx tsx bench/oidc.ts [--seconds 8] [--concurrency 16] [--codes 400] [--profile] [--statements] [--only userinfo]
//                         [--entry <server.js>]
//
// The server is the compiled tree, as `npm start` runs it (compiled into bench/results/.build/),
// or --entry's (another tree's dist/server.js, for a before/after on one run).
// --statements: the server reaches PostgreSQL through the counting proxy (bench/sql-counter.ts),
// and each line says how many SQL statements and round trips a request cost (the proxy runs in
// this process, so the server's CPU figures stay comparable; its wall figures do not).
// --only: measures only the requests whose label starts so (with --profile and profile-summary's
// last-seconds, a profile of that one kind of request).
//
// The server is a child process (bench/server.ts), so its CPU time is read from /proc apart from
// this load generator's. Requests are plain fetches (the protocol's own requests, as a client
// library would send them); the code-exchange figure counts only the exchanges (the codes are
// made first, through the authorization endpoint and the hosted pages). Figures, not a test.
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ADMIN_URL, createBenchDatabase } from './databases.js';
import { processCpuSeconds } from './proc-cpu.js';
import { customEntry, prepareServer, REPO_ROOT, startServer, type RunningServer } from './server.js';
import { startSqlCounter, type SqlCounter } from './sql-counter.js';

const { values } = parseArgs({
  options: { entry: { type: 'string' }, seconds: { type: 'string', default: '8' }, concurrency: { type: 'string', default: '16' }, codes: { type: 'string', default: '400' }, profile: { type: 'boolean', default: false }, statements: { type: 'boolean', default: false }, only: { type: 'string' } },
});
const SECONDS = Number(values.seconds);
const CONCURRENCY = Number(values.concurrency);
const CODES = Number(values.codes);
const REDIRECT = 'https://app.example.com/callback';
const ISSUER = 'http://localhost:8443';

const b64url = (buffer: Buffer) => buffer.toString('base64url');

let counter: SqlCounter | undefined;

async function measure(server: RunningServer, label: string, floor: string, requests: (() => Promise<void>) | Array<() => Promise<void>>): Promise<number> {
  if (values.only && !label.startsWith(values.only)) return NaN;
  const counted = counter?.counts();
  const started = processCpuSeconds(server.pid)!;
  const startedAt = performance.now();
  let done = 0;
  if (Array.isArray(requests)) {
    const queue = [...requests];
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        await next();
        done++;
      }
    }));
  } else {
    const until = startedAt + SECONDS * 1000;
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < until) {
        await requests();
        done++;
      }
    }));
  }
  const cpu = processCpuSeconds(server.pid)! - started;
  const wall = (performance.now() - startedAt) / 1000;
  const perCore = done / cpu;
  const now = counter?.counts();
  const sql = counted && now ? `  ${((now.statements - counted.statements) / done).toFixed(2)} statements, ${((now.roundTrips - counted.roundTrips) / done).toFixed(2)} round trips per request` : '';
  console.log(`${label.padEnd(34)} ${String(done).padStart(6)} requests  ${(done / wall).toFixed(0).padStart(6)}/s wall  ${perCore.toFixed(0).padStart(6)} per server core-second  (floor: ${floor})${sql}`);
  return perCore;
}

async function json(response: Response): Promise<Record<string, any>> {
  const body = (await response.json()) as Record<string, any>;
  if (!response.ok) throw new Error(`${response.status} ${JSON.stringify(body)}`);
  return body;
}

async function main(): Promise<void> {
  const database = await createBenchDatabase('postgres', ADMIN_URL);
  const entry = values.entry ? customEntry(values.entry) : await prepareServer({ build: true });
  if (entry.buildError) console.log(`the tree does not build; measuring its source under tsx:\n${entry.buildError}`);
  if (values.statements) counter = await startSqlCounter(database.env.DATABASE_URL!);
  const server = await startServer({
    entry,
    // --profile: the server writes a .cpuprofile into bench/results/profiles/ (bench/profile-summary.ts reads it).
    nodeFlags: values.profile ? ['--cpu-prof', `--cpu-prof-dir=${join(REPO_ROOT, 'bench', 'results', 'profiles')}`] : [],
    env: {
      ...database.env,
      ...(counter ? { DATABASE_URL: counter.url } : {}),
      RATE_LIMIT_ENABLED: 'false',
      LOG_LEVEL: 'warn',
      OIDC_PROVIDER_ENABLED: 'true',
      PUBLIC_URL: ISSUER,
      BOOTSTRAP_ADMIN_EMAIL: 'bench-admin@example.com',
      BOOTSTRAP_ADMIN_PASSWORD: 'bench admin passphrase',
      ARGON2_MEMORY_KIB: '19456',
    },
  });
  const base = server.baseUrl;
  try {
    const api = `${base}/api/v1`;
    const login = async (email: string, password: string) => json(await fetch(`${api}/auth/login/json`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }) }));
    const admin = (await login('bench-admin@example.com', 'bench admin passphrase')).access_token as string;
    const register = async (body: Record<string, unknown>) =>
      json(await fetch(`${api}/admin/oauth-clients`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` }, body: JSON.stringify({ name: 'bench', ...body }) }));
    const machine = await register({ grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_basic', redirect_uris: [], scopes: ['read'], resources: ['https://api.example.com'] });
    const web = await register({ first_party: true, grant_types: ['authorization_code', 'refresh_token'], token_endpoint_auth_method: 'client_secret_basic', redirect_uris: [REDIRECT], scopes: ['openid', 'email', 'profile', 'offline_access'] });
    const basic = (client: Record<string, any>) => `Basic ${Buffer.from(`${encodeURIComponent(client.client_id)}:${encodeURIComponent(client.client_secret)}`).toString('base64')}`;
    const token = (client: Record<string, any>, form: Record<string, string>) =>
      fetch(`${base}/oidc/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(client) }, body: new URLSearchParams(form) });

    console.log(`Keyhold OpenID Provider on PostgreSQL, server ${entry.label}, concurrency ${CONCURRENCY}`);
    await measure(server, 'client credentials', '>= 1,000', async () => void (await json(await token(machine, { grant_type: 'client_credentials', scope: 'read' }))));

    // A user signed in on the hosted pages (a cookie jar of one), then codes made in advance.
    const email = `bench-${randomBytes(4).toString('hex')}@example.com`;
    await json(await fetch(`${api}/auth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password: 'bench user passphrase', name: 'Bench' }) }));
    const cookies = new Map<string, string>();
    const browse = async (url: string, init: RequestInit = {}) => {
      const headers: Record<string, string> = { ...(init.headers as Record<string, string>) };
      if (cookies.size > 0) headers.cookie = [...cookies].map(([n, v]) => `${n}=${v}`).join('; ');
      const response = await fetch(url.replace(ISSUER, base), { ...init, redirect: 'manual', headers });
      for (const line of response.headers.getSetCookie()) {
        const [pair] = line.split(';');
        const [name, ...rest] = pair!.split('=');
        cookies.set(name!.trim(), rest.join('='));
      }
      return response;
    };
    const signInPage = await (await browse(`${base}/ui/sign-in`)).text();
    const csrf = /name="_csrf" value="([^"]+)"/.exec(signInPage)?.[1];
    if (!csrf) throw new Error(`no sign-in form: ${signInPage.slice(0, 200)}`);
    await browse(`${base}/ui/sign-in`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ _csrf: csrf, email, password: 'bench user passphrase' }) });
    const makeCode = async (scope: string, prompt?: string) => {
      const verifier = b64url(randomBytes(32));
      const challenge = b64url(createHash('sha256').update(verifier).digest());
      let location: string | null = `${base}/oidc/auth?${new URLSearchParams({ client_id: web.client_id, response_type: 'code', redirect_uri: REDIRECT, scope, code_challenge: challenge, code_challenge_method: 'S256', ...(prompt ? { prompt } : {}) })}`;
      for (let hops = 0; location && !location.startsWith(REDIRECT) && hops < 12; hops++) location = (await browse(new URL(location, base).href)).headers.get('location');
      if (!location?.startsWith(REDIRECT)) throw new Error('no code');
      return { code: new URL(location).searchParams.get('code')!, verifier };
    };
    const codes = [];
    for (let i = 0; i < CODES; i++) codes.push(await makeCode('openid email profile'));
    await measure(server, 'code exchange (with ID token)', '>= 400', codes.map(({ code, verifier }) => async () => void (await json(await token(web, { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT })))));

    // Refresh: each chain rotates its own token (one refresh in flight per chain).
    const first = await makeCode('openid offline_access email', 'consent');
    const tokens = await json(await token(web, { grant_type: 'authorization_code', code: first.code, code_verifier: first.verifier, redirect_uri: REDIRECT }));
    const chains: string[] = [];
    for (let i = 0; i < CONCURRENCY; i++) {
      const c = await makeCode('openid offline_access email', 'consent');
      chains.push((await json(await token(web, { grant_type: 'authorization_code', code: c.code, code_verifier: c.verifier, redirect_uri: REDIRECT }))).refresh_token);
    }
    // A chain is taken for one refresh and given back rotated: never two refreshes of one token.
    await measure(server, 'provider refresh', '>= 1,000', async () => {
      const mine = chains.pop()!;
      const refreshed = await json(await token(web, { grant_type: 'refresh_token', refresh_token: mine }));
      chains.push(refreshed.refresh_token);
    });

    const userinfoRate = await measure(server, 'userinfo', 'within 1.5x of /auth/me', async () => {
      await json(await fetch(`${base}/oidc/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } }));
    });
    const first_party = (await login(email, 'bench user passphrase')).access_token as string;
    const meRate = await measure(server, 'GET /auth/me (first-party)', '(reference)', async () => {
      await json(await fetch(`${api}/auth/me`, { headers: { authorization: `Bearer ${first_party}` } }));
    });
    console.log(`userinfo costs ${(meRate / userinfoRate).toFixed(2)}x the CPU of /auth/me per request (floor: <= 1.5x)`);
  } finally {
    await server.stop();
    await counter?.close();
    await database.drop();
  }
}

await main();
