// `npx tsx bench/pages.ts [--requests 2000]`: each hosted page's server CPU time per request
// (target: under 2 ms for a page without argon2). The app runs in this process on the embedded
// database (in memory) and is driven with app.inject, so a figure is this process's user +
// system CPU over the requests divided by their number: the page's handler, template,
// hooks and database work (PGlite runs in-process), plus light-my-request's small share.
// Rate limits are off; argon2 runs at its production parameters (only the sign-in post uses it).
// `--only <text>` runs the pages whose name contains it (e.g. `--only account`, for a profile).
import { parseArgs } from 'node:util';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';

const { values: args } = parseArgs({ options: { requests: { type: 'string', default: '2000' }, only: { type: 'string' } } });
const REQUESTS = Number(args.requests);
const PASSWORD = 'a long and unusual passphrase';

const app = await buildApp(
  // PUBLIC_URL on localhost: the pages offer passkeys (they do not at an IP address).
  loadConfig({ HOSTED_UI_ENABLED: 'true', DATA_DIR: 'memory://', RATE_LIMIT_ENABLED: 'false', LOG_LEVEL: 'error', FRONTEND_URL: '', PUBLIC_URL: 'http://localhost:8000' }),
);
await app.ready();

const cookiesOf = (setCookie: string | string[] | undefined): string =>
  [setCookie ?? []].flat().map((line) => line.split(';')[0]).join('; ');

// A user and a signed-in browser (its session and CSRF cookies, and a token for its forms).
const email = 'bench@example.com';
const registered = await app.inject({ method: 'POST', url: '/api/v1/auth/register', payload: { email, password: PASSWORD, name: 'Bench' } });
if (registered.statusCode !== 201) throw new Error(`register: ${registered.statusCode} ${registered.body}`);
const signInPage = await app.inject({ method: 'GET', url: '/ui/sign-in' });
const csrfCookie = cookiesOf(signInPage.headers['set-cookie']);
const csrfToken = /name="_csrf" value="([^"]+)"/.exec(signInPage.body)![1]!;
const signedIn = await app.inject({
  method: 'POST', url: '/ui/sign-in',
  headers: { cookie: csrfCookie, 'content-type': 'application/x-www-form-urlencoded' },
  payload: new URLSearchParams({ _csrf: csrfToken, email, password: PASSWORD }).toString(),
});
if (signedIn.headers.location !== '/ui/account') throw new Error(`sign-in: ${signedIn.statusCode} ${signedIn.headers.location}`);
const sessionCookie = `${csrfCookie}; ${cookiesOf(signedIn.headers['set-cookie'])}`;
const form = (fields: Record<string, string>) => new URLSearchParams({ _csrf: csrfToken, ...fields }).toString();
const formHeaders = { cookie: sessionCookie, 'content-type': 'application/x-www-form-urlencoded' };

interface Case {
  name: string;
  method: 'GET' | 'POST';
  url: string;
  headers?: Record<string, string>;
  payload?: string;
  expect: number;
  requests?: number;
}
const cases: Case[] = [
  { name: 'GET /ui/sign-in', method: 'GET', url: '/ui/sign-in', expect: 200 },
  { name: 'GET /ui/sign-up', method: 'GET', url: '/ui/sign-up', expect: 200 },
  { name: 'GET /ui/forgot-password', method: 'GET', url: '/ui/forgot-password', expect: 200 },
  { name: 'GET /ui/reset-password (bad link)', method: 'GET', url: '/ui/reset-password?token=not-a-token', expect: 200 },
  { name: 'GET /ui/verify-email', method: 'GET', url: '/ui/verify-email?token=abc', expect: 200 },
  { name: 'GET /ui/account (signed in: sections too)', method: 'GET', url: '/ui/account', headers: { cookie: sessionCookie }, expect: 200 },
  { name: 'GET /ui/account/organization', method: 'GET', url: '/ui/account/organization', headers: { cookie: sessionCookie }, expect: 200 },
  { name: 'GET /ui/account/organization/domains', method: 'GET', url: '/ui/account/organization/domains', headers: { cookie: sessionCookie }, expect: 200 },
  { name: 'GET /ui/account/organization/sso', method: 'GET', url: '/ui/account/organization/sso', headers: { cookie: sessionCookie }, expect: 200 },
  { name: 'GET /ui/account/organization/scim', method: 'GET', url: '/ui/account/organization/scim', headers: { cookie: sessionCookie }, expect: 200 },
  { name: 'GET /ui/mfa (the form)', method: 'GET', url: '/ui/mfa', headers: { cookie: 'keyhold_mfa=any' }, expect: 200 },
  { name: 'GET /ui/mfa?passkey=1 (passkey offered)', method: 'GET', url: '/ui/mfa?passkey=1', headers: { cookie: 'keyhold_mfa=any' }, expect: 200 },
  // The passkey script's first step: WebAuthn options and a stored challenge.
  { name: 'POST /ui/passkey/options (JSON)', method: 'POST', url: '/ui/passkey/options', headers: { cookie: sessionCookie, 'content-type': 'application/json' }, payload: JSON.stringify({ _csrf: csrfToken }), expect: 200 },
  { name: 'GET /ui/assets/webauthn.js', method: 'GET', url: '/ui/assets/webauthn.js', expect: 200 },
  { name: 'GET /ui/assets/keyhold.css', method: 'GET', url: '/ui/assets/keyhold.css', expect: 200 },
  { name: 'POST /ui/sign-up (refused field)', method: 'POST', url: '/ui/sign-up', headers: formHeaders, payload: form({ name: 'A', email: 'x@example.com', password: 'short' }), expect: 303 },
  { name: 'POST /ui/sign-in (no CSRF token)', method: 'POST', url: '/ui/sign-in', headers: formHeaders, payload: 'email=x%40example.com&password=x', expect: 403 },
  { name: 'POST /ui/sign-in (argon2, for scale)', method: 'POST', url: '/ui/sign-in', headers: formHeaders, payload: form({ email, password: 'wrong password' }), expect: 303, requests: 50 },
];

console.log(`hosted pages: server CPU per request (${REQUESTS} requests each after 200 warm-up; Node ${process.version})`);
console.log('page'.padEnd(40), 'CPU ms/req'.padStart(11), 'wall ms/req'.padStart(12), 'bytes'.padStart(7));
for (const c of cases.filter((c) => !args.only || c.name.includes(args.only!))) {
  const n = c.requests ?? REQUESTS;
  const send = () => app.inject({ method: c.method, url: c.url, headers: c.headers, payload: c.payload });
  for (let i = 0; i < Math.min(200, n); i++) await send();
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const response = await send();
    if (response.statusCode !== c.expect) throw new Error(`${c.name}: ${response.statusCode} ${response.body.slice(0, 200)}`);
    bytes = response.rawPayload.length;
  }
  const wallMs = Number(process.hrtime.bigint() - start) / 1e6 / n;
  const used = process.cpuUsage(cpu);
  const cpuMs = (used.user + used.system) / 1000 / n;
  console.log(c.name.padEnd(40), cpuMs.toFixed(3).padStart(11), wallMs.toFixed(3).padStart(12), String(bytes).padStart(7));
}
await app.close();
