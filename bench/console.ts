// `npx tsx bench/console.ts [--sizes 1000,1000000] [--requests 1000] [--page users]`: the admin console's
// pages on PostgreSQL: this server process's CPU per page (target under 2 ms; no argon2: the
// cheap test hasher signs the admin in) and each page's time per request, with the users,
// accounts and audit tables seeded by SQL generate_series at each size. The users list and the
// audit log should stay flat from 1,000 to 1,000,000 rows (within 1.2x): keyset paging over
// the indexes of migrations/0018, never OFFSET. Each table's plan is printed too.
// Needs a loopback PostgreSQL (BENCH_DATABASE_URL or TEST_DATABASE_URL; see bench/databases.ts).
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { pastPrefix, usersByEmailPrefix } from '../src/modules/admin/admin-users.repo.js';
import { ensureAdmin } from '../src/modules/admin/create-admin.js';
import { createTestHasher } from '../test/helpers/hasher.js';
import { ADMIN_URL, createBenchDatabase } from './databases.js';

const { values: args } = parseArgs({
  options: { sizes: { type: 'string', default: '1000,1000000' }, requests: { type: 'string', default: '1000' }, page: { type: 'string' } },
});
const SIZES = args.sizes.split(',').map(Number);
const REQUESTS = Number(args.requests);
const PASSWORD = 'bench passphrase';

/** Users, accounts and audit rows, by SQL alone (seconds for a million, not an hour of API calls). */
async function seed(client: pg.Client, rows: number): Promise<void> {
  await client.query(`
    INSERT INTO accounts (id, name, display_code)
    SELECT gen_random_uuid(), 'Account ' || lpad(i::text, 8, '0'), lpad(upper(to_hex(i)), 8, '0')
      FROM generate_series(1, $1) i`, [rows]);
  const account = (await client.query<{ id: string }>(`SELECT id FROM accounts ORDER BY id LIMIT 1`)).rows[0]!.id;
  await client.query(`
    INSERT INTO users (id, email, password_hash, name, account_id, account_role)
    SELECT gen_random_uuid(), 'user-' || lpad(i::text, 8, '0') || '@example.com', NULL, 'User ' || i, $2, 'member'
      FROM generate_series(1, $1) i`, [rows, account]);
  await client.query(`
    INSERT INTO audit_logs (user_id, action, resource_type, created_at, details)
    SELECT NULL, (ARRAY['auth.login', 'auth.logout', 'auth.login_failed', 'auth.register'])[1 + i % 4], 'user',
           now() - make_interval(secs => $1 - i), '{}'
      FROM generate_series(1, $1) i`, [rows]);
  await client.query('ANALYZE');
}

const cookiesOf = (setCookie: string | string[] | undefined): string => [setCookie ?? []].flat().map((line) => line.split(';')[0]).join('; ');

interface Row { page: string; size: number; cpuMs: number; wallMs: number }
const results: Row[] = [];

for (const size of SIZES) {
  const database = await createBenchDatabase('postgres', ADMIN_URL);
  try {
    const app = await buildApp(
      loadConfig({ HOSTED_UI_ENABLED: 'true', RATE_LIMIT_ENABLED: 'false', LOG_LEVEL: 'error', FRONTEND_URL: '', PUBLIC_URL: 'http://localhost:8000', ...database.env }),
      { passwords: createTestHasher() },
    );
    await app.ready();
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    const started = performance.now();
    await seed(client, size);
    console.log(`seeded ${size.toLocaleString('en')} users, accounts and audit rows in ${((performance.now() - started) / 1000).toFixed(1)} s`);

    const email = 'admin@example.com';
    const { user: admin } = await ensureAdmin(app.ctx, { email, password: PASSWORD, name: 'Bench Admin' });
    const signInPage = await app.inject({ method: 'GET', url: '/ui/sign-in' });
    const csrf = cookiesOf(signInPage.headers['set-cookie']);
    const token = /name="_csrf" value="([^"]+)"/.exec(signInPage.body)![1]!;
    const signedIn = await app.inject({
      method: 'POST', url: '/ui/sign-in', headers: { cookie: csrf, 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ _csrf: token, email, password: PASSWORD, next: '/ui/admin' }).toString(),
    });
    const cookie = `${csrf}; ${cookiesOf(signedIn.headers['set-cookie'])}`;
    const middle = `user-${String(Math.floor(size / 2)).padStart(8, '0')}@example.com`;
    const middleId = (await client.query<{ id: string }>(`SELECT id FROM audit_logs ORDER BY id LIMIT 1 OFFSET $1`, [Math.floor(size / 2)])).rows[0]!.id;
    const pages: Array<[string, string]> = [
      ['users (first page)', '/ui/admin/users'],
      ['users (middle page)', `/ui/admin/users?after=${encodeURIComponent(middle)}`],
      ['users (email prefix)', '/ui/admin/users?q=user-0000'],
      ['user', `/ui/admin/users/${admin.id}`],
      ['audit log (first page)', '/ui/admin/audit'],
      ['audit log (middle page)', `/ui/admin/audit?before=${middleId}`],
      ['audit log (action)', '/ui/admin/audit?action=auth.logout'],
      ['audit log (user)', `/ui/admin/audit?user=${encodeURIComponent(email)}`],
      ['accounts (name prefix)', '/ui/admin/accounts?q=account%200000'],
      ['signing keys', '/ui/admin/keys'],
      ['webhooks', '/ui/admin/webhooks'],
      ['settings', '/ui/admin/settings'],
    ];
    // --page <text>: only the pages whose label contains it (e.g. to profile one with --cpu-prof).
    for (const [page, url] of pages.filter(([label]) => !args.page || label.includes(args.page))) {
      const request = () => app.inject({ method: 'GET', url, headers: { cookie } });
      const first = await request();
      if (first.statusCode !== 200) throw new Error(`${url}: ${first.statusCode} ${first.body.slice(0, 300)}`);
      // Warm: a running server has long compiled these paths; the first few hundred requests of
      // a fresh process pay V8's compilation (2.05 ms against 1.62 ms once warm, users page).
      for (let i = 0; i < 300; i++) await request();
      const cpu = process.cpuUsage();
      const wall = performance.now();
      for (let i = 0; i < REQUESTS; i++) await request();
      const used = process.cpuUsage(cpu);
      results.push({ page, size, cpuMs: (used.user + used.system) / 1000 / REQUESTS, wallMs: (performance.now() - wall) / REQUESTS });
    }
    // The users list runs as a prepared statement: its generic plan (what a connection uses
    // once PostgreSQL stops planning it per call) must walk the index within the bounds.
    await client.query('SET plan_cache_mode = force_generic_plan');
    await client.query(`PREPARE users_page(text, text, text, int) AS ${usersByEmailPrefix.text}`);
    for (const [name, sql, params] of [
      ['users by email prefix (generic plan)', `EXECUTE users_page('user-0000', '${pastPrefix('user-0000')}', '', 51)`, []],
      ['users after a cursor (generic plan)', `EXECUTE users_page('', '${pastPrefix('')}', '${middle}', 51)`, []],
      ['audit before a cursor', `SELECT * FROM audit_logs WHERE id < $1 ORDER BY id DESC LIMIT 51`, [middleId]],
    ] as const) {
      const plan = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`, [...params]);
      console.log(`  plan, ${name}: ${plan.rows.map((r) => r['QUERY PLAN']).find((line) => /Scan/.test(line))?.trim()}`);
    }
    await client.end();
    await app.close();
  } finally {
    await database.drop();
  }
}

const [small, large] = SIZES;
console.log(`\n${REQUESTS} requests per page; load average ${(await import('node:os')).loadavg().map((n) => n.toFixed(2)).join(' ')}`);
console.log(`| page | CPU/req at ${small?.toLocaleString('en')} | CPU/req at ${large?.toLocaleString('en')} | time/req at ${small?.toLocaleString('en')} | time/req at ${large?.toLocaleString('en')} | ratio |`);
console.log('|---|---:|---:|---:|---:|---:|');
for (const row of results.filter((r) => r.size === small)) {
  const other = results.find((r) => r.size === large && r.page === row.page);
  const fmt = (n: number | undefined) => (n === undefined ? '—' : `${n.toFixed(2)} ms`);
  console.log(`| ${row.page} | ${fmt(row.cpuMs)} | ${fmt(other?.cpuMs)} | ${fmt(row.wallMs)} | ${fmt(other?.wallMs)} | ${other ? (other.wallMs / row.wallMs).toFixed(2) : '—'} |`);
}
