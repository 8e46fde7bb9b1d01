// Enterprise SSO at scale (API.md "Enterprise single sign-on"; issue 28's "Done when"): with
// 10,000 accounts, each with a verified domain and a SAML connection, starting a sign-in by email
// and processing a SAML response must cost within 1.2x of the same with 10 accounts, and a SAML
// response under 5 ms of server CPU.
//
//   npx tsx bench/sso.ts [--ops 300] [--accounts 10,10000] [--statements] [--profile DIR] [--entry <server.js>]
//
// --statements counts the SQL statements and round trips per SAML response, through a proxy
// in this process (bench/sql-counter.ts): its CPU then adds to the figures, so count in a run
// of its own.
// --profile DIR writes a CPU profile of each SAML-response loop (only the measured responses)
// to DIR/sso-acs-{first,returning}-<accounts>.cpuprofile, for bench/profile-summary.ts.
//
// "SAML response" is each person's first (auto_join creates the user: the target's figure);
// "returning user" the same people once more (their identity linked, no user created).
//
// For each account count: a throw-away PostgreSQL database (TEST_DATABASE_URL / BENCH_DATABASE_URL's
// server, loopback only), migrated, seeded in SQL (accounts, verified domains, SAML connections
// to one test IdP, auto_join on); the compiled app built in this process and driven with
// app.inject (no sockets). Responses are signed beforehand, so what is measured is the server's
// work only: CPU of this process (process.cpuUsage) per operation, and wall time. PostgreSQL's
// own CPU is not in the figure. Figures, not a test: the machine's other load moves them.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import type * as AppModule from '../src/app.js';
import type * as ConfigModule from '../src/config.js';
import { TestSamlIdp, authnRequestId, base64 } from '../test/helpers/saml-idp.js';
import { ADMIN_URL, createBenchDatabase } from './databases.js';
import { customEntry, prepareServer } from './server.js';
import { startSqlCounter } from './sql-counter.js';

const { values: args } = parseArgs({ options: {
  ops: { type: 'string', default: '300' },
  accounts: { type: 'string', default: '10,10000' },
  statements: { type: 'boolean', default: false },
  profile: { type: 'string' },
  entry: { type: 'string' },
} });
const OPS = Number(args.ops);

// The app as `npm start` runs it: compiled (into bench/results/.build/, or --entry's tree, a
// dist/server.js whose app.js sits beside it), not the source under tsx.
const entry = args.entry ? customEntry(args.entry) : await prepareServer({ build: true });
if (entry.buildError) console.log(`the tree does not build; measuring its source under tsx:\n${entry.buildError}`);
const appDir = dirname(entry.args.at(-1)!);
const load = async <T>(name: string): Promise<T> =>
  (await import(pathToFileURL(join(appDir, existsSync(join(appDir, `${name}.js`)) ? `${name}.js` : `${name}.ts`)).href)) as T;
const { buildApp } = await load<typeof AppModule>('app');
const { loadConfig } = await load<typeof ConfigModule>('config');
const FRONT_END = 'http://frontend.bench/sso';
const idp = new TestSamlIdp('https://idp.bench/saml', 'https://idp.bench/saml/sso');

interface AcsFigures {
  cpuUs: number;
  wallUs: number;
  /** SQL statements / round trips the server sent PostgreSQL per SAML response (--statements). */
  statements: number;
  roundTrips: number;
}

interface Figures {
  accounts: number;
  startCpuUs: number;
  startWallUs: number;
  /** A person's first SAML response: auto_join creates the user (the figure the target is for). */
  first: AcsFigures;
  /** The same people again: the identity is linked, no user is created. */
  returning: AcsFigures;
}

async function measure(accounts: number): Promise<Figures> {
  const database = await createBenchDatabase('postgres', ADMIN_URL);
  const counter = args.statements ? await startSqlCounter(database.url!) : undefined;
  const config = loadConfig({
    DATABASE_URL: counter?.url ?? database.url,
    RATE_LIMIT_ENABLED: 'false',
    LOG_LEVEL: 'warn',
    OAUTH_REDIRECT_URIS: FRONT_END,
    PUBLIC_URL: 'http://127.0.0.1:8000',
    JWT_SECRET: 'bench-secret-bench-secret-bench-secret-0123',
  });
  const app = await buildApp(config);
  try {
    const samlConfig = JSON.stringify({
      idp_entity_id: idp.entityId, idp_sso_url: idp.ssoUrl, idp_certificates: [idp.certBase64],
      allow_idp_initiated: false, default_redirect_uri: null, sp_certificate: null,
    });
    await sql`
      WITH a AS (
        INSERT INTO accounts (id, name, display_code)
        SELECT gen_random_uuid(), 'Bench ' || i, upper(substr(md5('bench' || i), 1, 8)) FROM generate_series(1, ${accounts}) i
        RETURNING id, name
      ), d AS (
        INSERT INTO account_domains (id, account_id, domain, verification_token, verified_at)
        SELECT gen_random_uuid(), id, 'bench-' || split_part(name, ' ', 2) || '.test', 'x', now() FROM a
      ), s AS (
        INSERT INTO sso_settings (account_id, enforced, auto_join, default_role) SELECT id, false, true, 'member' FROM a
      )
      INSERT INTO sso_connections (id, account_id, type, name, config, secrets)
      SELECT gen_random_uuid(), id, 'saml', 'Bench SAML', ${samlConfig}::jsonb, 'plain.e30' FROM a`.execute(app.ctx.db);
    await sql`ANALYZE`.execute(app.ctx.db);
    const connections = new Map<number, string>();
    for (const row of (await sql<{ id: string; domain: string }>`SELECT c.id, d.domain FROM sso_connections c JOIN account_domains d USING (account_id)`.execute(app.ctx.db)).rows) {
      connections.set(Number(/bench-(\d+)\.test/.exec(row.domain)![1]), row.id);
    }
    const pick = (i: number) => 1 + ((i * 7919) % accounts);
    const start = (i: number) =>
      app.inject({ method: 'POST', url: '/api/v1/auth/sso/start', payload: { email: `person${i}@bench-${pick(i)}.test`, redirect_uri: FRONT_END } });

    // Warm-up (JIT, connection pool, node-saml's first use).
    for (let i = 0; i < 30; i++) await start(i);

    // 1. Start by email.
    let cpu = process.cpuUsage();
    let wall = process.hrtime.bigint();
    const started: Array<{ i: number; url: string }> = [];
    for (let i = 0; i < OPS; i++) {
      const reply = await start(1000 + i);
      if (reply.statusCode !== 200) throw new Error(`start: ${reply.statusCode} ${reply.body}`);
      started.push({ i: 1000 + i, url: reply.json().authorization_url });
    }
    let used = process.cpuUsage(cpu);
    const startCpuUs = (used.user + used.system) / OPS;
    const startWallUs = Number(process.hrtime.bigint() - wall) / 1000 / OPS;

    // 2. SAML responses, signed beforehand (the IdP's work is not the server's): each person's
    // first sign-in (auto_join creates the user), then the same people again (linked).
    const responses = async (people: Array<{ i: number; url: string }>, label: string) => {
      const forms = people.map(({ i, url }) => {
        const id = connections.get(pick(i))!;
        const acsUrl = `http://127.0.0.1:8000/api/v1/auth/sso/saml/${id}/acs`;
        const email = `person${i}@bench-${pick(i)}.test`;
        const xml = idp.sign(idp.response({ inResponseTo: authnRequestId(url), nameId: email, email, acsUrl, audience: `http://127.0.0.1:8000/api/v1/auth/sso/saml/${id}/metadata` }));
        return { url: `/api/v1/auth/sso/saml/${id}/acs`, payload: new URLSearchParams({ SAMLResponse: base64(xml) }).toString() };
      });
      const post = (form: { url: string; payload: string }) =>
        app.inject({ method: 'POST', url: form.url, payload: form.payload, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      for (const form of forms.splice(0, 20)) await post(form);
      const profiler = args.profile ? new Session() : undefined;
      if (profiler) {
        profiler.connect();
        await profiler.post('Profiler.enable');
        await profiler.post('Profiler.start');
      }
      const countsBefore = counter?.counts();
      const cpu = process.cpuUsage();
      const wall = process.hrtime.bigint();
      for (const form of forms) {
        const reply = await post(form);
        if (reply.statusCode !== 303) throw new Error(`acs: ${reply.statusCode} ${reply.body}`);
      }
      const used = process.cpuUsage(cpu);
      const wallUs = Number(process.hrtime.bigint() - wall) / 1000 / forms.length;
      const counts = counter?.counts();
      if (profiler) {
        const { profile } = await profiler.post('Profiler.stop');
        mkdirSync(args.profile!, { recursive: true });
        writeFileSync(join(args.profile!, `sso-acs-${label}-${accounts}.cpuprofile`), JSON.stringify(profile));
        profiler.disconnect();
      }
      return {
        cpuUs: (used.user + used.system) / forms.length,
        wallUs,
        statements: counts && countsBefore ? (counts.statements - countsBefore.statements) / forms.length : NaN,
        roundTrips: counts && countsBefore ? (counts.roundTrips - countsBefore.roundTrips) / forms.length : NaN,
      };
    };
    const first = await responses(started, 'first');
    const again: Array<{ i: number; url: string }> = [];
    for (const { i } of started) {
      const reply = await start(i);
      if (reply.statusCode !== 200) throw new Error(`start: ${reply.statusCode} ${reply.body}`);
      again.push({ i, url: reply.json().authorization_url });
    }
    const returning = await responses(again, 'returning');
    return { accounts, startCpuUs, startWallUs, first, returning };
  } finally {
    await app.close();
    await counter?.close();
    await database.drop();
  }
}

const results: Figures[] = [];
for (const n of args.accounts.split(',').map(Number)) results.push(await measure(n));
const fmt = (us: number) => `${(us / 1000).toFixed(2)} ms`;
const acs = (f: AcsFigures) => `${fmt(f.cpuUs)} (${fmt(f.wallUs)})${Number.isNaN(f.statements) ? '' : ` ${f.statements.toFixed(1)} statements / ${f.roundTrips.toFixed(1)} round trips`}`;
console.log(`SSO bench, ${OPS} operations each, PostgreSQL, app ${entry.label}, server CPU of this process per operation (wall in brackets), ${new Date().toISOString()}`);
for (const r of results) {
  console.log(`${String(r.accounts).padStart(6)} accounts: start by email ${fmt(r.startCpuUs)} (${fmt(r.startWallUs)}), SAML response ${acs(r.first)}; returning user ${acs(r.returning)}`);
}
if (results.length >= 2) {
  const [small, large] = [results[0]!, results[results.length - 1]!];
  console.log(`ratio ${large.accounts}/${small.accounts}: start ${(large.startCpuUs / small.startCpuUs).toFixed(2)}x, SAML response ${(large.first.cpuUs / small.first.cpuUs).toFixed(2)}x (target ≤ 1.2x); SAML response target < 5 ms CPU`);
}
