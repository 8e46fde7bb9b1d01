// SCIM provisioning throughput and look-up cost (src/modules/scim), on PostgreSQL.
//
//   npx tsx bench/scim.ts [--create 2000] [--concurrency 16] [--lookups 2000]
//
// Starts the built server as a child process on a throw-away database, makes an account and a
// SCIM token, then prints:
//   1. user creations per second over POST /scim/v2/Users (`--concurrency` in flight), with the
//      server's CPU per creation (/proc), PostgreSQL's CPU per creation (its processes for the
//      database, /proc) and the SQL statements and round trips per creation (the server talks
//      to PostgreSQL through bench/sql-counter.ts; the setup-email job each creation queues is
//      worked in the window too, and counted: it is the creation's own work);
//   2. `GET /Users?filter=userName eq "…"` at 1,000 users and at 100,000 users in the account:
//      server CPU per look-up (utime+stime of the server process / look-ups, sequential), which
//      should stay flat (the (account_id, lower(user_name)) index);
//   3. a full list of 10,000 users paged by 1,000 (startIndex/count): wall time.
// `--only-create` stops after 1 (before/after comparisons of the write path); `--server
// path/to/dist/server.js` measures another build (e.g. main's) instead of this tree's.
// The accounts of 1,000 / 10,000 / 100,000 users beyond the ones created over SCIM are filled
// with one SQL statement each (users + scim_users rows), which is set-up, not what is measured.
// Figures, not a test.
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { ADMIN_URL, createBenchDatabase, postgresPidsFor } from './databases.js';
import { processCpuSeconds } from './proc-cpu.js';
import { BENCH_SERVER_ENV, customEntry, prepareServer, startServer } from './server.js';
import { startSqlCounter } from './sql-counter.js';

const { values: args } = parseArgs({
  options: {
    create: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '16' },
    lookups: { type: 'string', default: '2000' },
    'only-create': { type: 'boolean', default: false },
    server: { type: 'string' },
  },
});
const CREATE = Number(args.create);
const CONCURRENCY = Number(args.concurrency);
const LOOKUPS = Number(args.lookups);

const database = await createBenchDatabase('postgres', ADMIN_URL);
const entry = args.server ? customEntry(args.server) : await prepareServer({ build: true });
const counter = await startSqlCounter(database.url!);
const server = await startServer({ entry, env: { ...BENCH_SERVER_ENV, ...database.env, DATABASE_URL: counter.url } });
const sqlClient = new pg.Client({ connectionString: database.url });
await sqlClient.connect();
const postgresCpu = async () => {
  let total = 0;
  for (const pid of await postgresPidsFor(sqlClient, database.name!)) total += processCpuSeconds(pid) ?? 0;
  return total;
};
try {
  const api = `${server.baseUrl}/api/v1`;
  const json = async (path: string, body: unknown, token?: string) => {
    const response = await fetch(`${api}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
    return response.json() as Promise<any>;
  };
  const ownerEmail = `owner-${randomUUID()}@bench.test`;
  await json('/auth/register', { email: ownerEmail, password: 'bench password 123', name: 'Bench Owner' });
  const login = await json('/auth/login/json', { email: ownerEmail, password: 'bench password 123' });
  const me = await (await fetch(`${api}/auth/me`, { headers: { authorization: `Bearer ${login.access_token}` } })).json() as { account_id: string };
  const { token } = await json('/accounts/me/scim-tokens', { description: 'bench' }, login.access_token);
  const scimHeaders = { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' };
  const scim = (path: string, init: RequestInit = {}) => fetch(`${server.baseUrl}/scim/v2${path}`, { ...init, headers: scimHeaders });

  // 1. Creations.
  const create = async (i: number) => {
    const userName = `created-${i}-${randomUUID().slice(0, 8)}@bench.test`;
    const response = await scim('/Users', {
      method: 'POST',
      body: JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName, name: { givenName: 'Bench', familyName: `User ${i}` }, active: true }),
    });
    if (response.status !== 201) throw new Error(`create: ${response.status} ${await response.text()}`);
    await response.arrayBuffer();
  };
  for (let i = 0; i < 50; i++) await create(-i - 1); // warm-up
  const cpuBefore = processCpuSeconds(server.pid)!;
  const postgresBefore = await postgresCpu();
  const countsBefore = counter.counts();
  const started = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < CREATE) await create(next++);
  }));
  const seconds = (performance.now() - started) / 1000;
  const cpu = processCpuSeconds(server.pid)! - cpuBefore;
  // The setup emails these creations queued: let the worker finish them, so they are counted.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const postgresUsed = (await postgresCpu()) - postgresBefore;
  const counts = counter.counts();
  console.log(`creations: ${CREATE} users over SCIM in ${seconds.toFixed(2)} s = ${(CREATE / seconds).toFixed(0)} users/s ` +
    `(concurrency ${CONCURRENCY}); server CPU ${((cpu / CREATE) * 1000).toFixed(2)} ms/creation ` +
    `(${(1 / cpu * CREATE).toFixed(0)} creations per server core-second); PostgreSQL CPU ${((postgresUsed / CREATE) * 1000).toFixed(2)} ms/creation; ` +
    `${((counts.statements - countsBefore.statements) / CREATE).toFixed(2)} SQL statements and ` +
    `${((counts.roundTrips - countsBefore.roundTrips) / CREATE).toFixed(2)} round trips per creation (setup email's job included)`);
  if (!args['only-create']) {

    const fill = async (total: number) => {
      const { rows } = await sqlClient.query<{ n: string }>('SELECT count(*) AS n FROM scim_users WHERE account_id = $1', [me.account_id]);
      const missing = total - Number(rows[0]!.n);
      if (missing <= 0) return;
      const tag = randomUUID().slice(0, 8);
      await sqlClient.query(
        `WITH new_users AS (
           INSERT INTO users (id, email, name, account_id, account_role)
           SELECT gen_random_uuid(), 'seeded-' || $2 || '-' || g || '@bench.test', 'Seeded ' || g, $1, 'member'
             FROM generate_series(1, $3) AS g
           RETURNING id, email)
         INSERT INTO scim_users (user_id, account_id, user_name, attributes)
         SELECT id, $1, email, '{}'::jsonb FROM new_users`,
        [me.account_id, tag, missing],
      );
      await sqlClient.query('ANALYZE users; ANALYZE scim_users');
    };
    const someUserNames = async (n: number) =>
      (await sqlClient.query<{ user_name: string }>('SELECT user_name FROM scim_users WHERE account_id = $1 ORDER BY random() LIMIT $2', [me.account_id, n])).rows.map((r) => r.user_name);

    // 2. userName eq at 1,000 and 100,000 users (the 1,000 case first: the account may already hold more).
    const lookup = async (label: string) => {
      const names = await someUserNames(200);
      for (let i = 0; i < 100; i++) await (await scim(`/Users?filter=${encodeURIComponent(`userName eq "${names[i % names.length]}"`)}`)).arrayBuffer();
      const before = processCpuSeconds(server.pid)!;
      const t0 = performance.now();
      for (let i = 0; i < LOOKUPS; i++) {
        const response = await scim(`/Users?filter=${encodeURIComponent(`userName eq "${names[i % names.length]!.toUpperCase()}"`)}`);
        const body = (await response.json()) as { totalResults: number };
        if (body.totalResults !== 1) throw new Error(`lookup found ${body.totalResults}`);
      }
      const wall = (performance.now() - t0) / LOOKUPS;
      const used = ((processCpuSeconds(server.pid)! - before) / LOOKUPS) * 1000;
      console.log(`userName eq at ${label}: server CPU ${used.toFixed(3)} ms/lookup, wall ${wall.toFixed(2)} ms (sequential, ${LOOKUPS} look-ups)`);
    };
    if (CREATE <= 1000) {
      await fill(1000);
      await lookup('1,000 users');
    } else {
      console.log(`(the account already holds ${CREATE} users: the small look-up runs at that size)`);
      await lookup(`${CREATE} users`);
    }

    // 3. Full list of 10,000 users paged by 1,000.
    await fill(10_000);
    const t0 = performance.now();
    let seen = 0;
    for (let startIndex = 1; ; startIndex += 1000) {
      const page = (await (await scim(`/Users?startIndex=${startIndex}&count=1000`)).json()) as { Resources: unknown[]; totalResults: number };
      seen += page.Resources.length;
      if (page.Resources.length < 1000) break;
    }
    console.log(`full list: ${seen} users paged by 1,000 in ${((performance.now() - t0) / 1000).toFixed(2)} s`);

    await fill(100_000);
    await lookup('100,000 users');
  }
} finally {
  await sqlClient.end();
  await server.stop();
  await counter.close();
  await database.drop();
}
