// What a password login costs besides argon2id, on PostgreSQL: the server's main thread (the
// event loop: HTTP, JSON, SQL round trips, tokens), its other threads (argon2id on the libuv
// threadpool, V8's GC helpers) and the database's processes, per login, read from /proc.
// `npm run bench` gives the login's rate against the argon2id floor, a ratio that moves with
// the machine from one minute to the next; this splits the cost so that a change to the
// login's own work shows apart from argon2id's.
//
//   npx tsx bench/login-cost.ts [--logins 400] [--concurrency 8] [--entry <server.js>] [--profile]
//
// Logins run `--concurrency` at a time (8, like `npm run bench`; 1 gives the main thread its own
// core, so a --profile shows where its time goes rather than where it was preempted).
import { parseArgs } from 'node:util';
import pg from 'pg';
import { ADMIN_URL, createBenchDatabase, postgresPidsFor } from './databases.js';
import { cpuBetween, snapshot, threadCpuSeconds, threadIds } from './proc-cpu.js';
import { BENCH_PASSWORD, inParallel, login, register } from './seed.js';
import { BENCH_SERVER_ENV, customEntry, prepareServer, startServer } from './server.js';

const { values: args } = parseArgs({
  options: {
    logins: { type: 'string', default: '400' },
    concurrency: { type: 'string', default: '8' },
    entry: { type: 'string' },
    profile: { type: 'boolean', default: false },
  },
});
const LOGINS = Number(args.logins);
const CONCURRENCY = Number(args.concurrency);
/** CPU seconds of the threads of `pid`, the main thread (tid = pid) apart. */
function threadSeconds(pid: number): { main: number; others: number } {
  let main = 0;
  let others = 0;
  for (const tid of threadIds(pid)) {
    const seconds = threadCpuSeconds(pid, tid) ?? 0;
    if (tid === pid) main += seconds;
    else others += seconds;
  }
  return { main, others };
}

async function main(): Promise<void> {
  const database = await createBenchDatabase('postgres', ADMIN_URL);
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  const entry = args.entry ? customEntry(args.entry) : await prepareServer({ build: true });
  const server = await startServer({
    entry,
    env: { ...BENCH_SERVER_ENV, ...database.env },
    nodeFlags: args.profile ? ['--cpu-prof', '--cpu-prof-dir=bench/results/profiles'] : [],
  });
  try {
    const users = Array.from({ length: CONCURRENCY }, (_, i) => ({ email: `bench-login-${i}@example.com`, password: BENCH_PASSWORD }));
    await inParallel(users, CONCURRENCY, (user) => register(server.baseUrl, user));
    await inParallel(users.flatMap((user) => [user, user, user]), CONCURRENCY, (user) => login(server.baseUrl, user)); // warm
    await new Promise((resolve) => setTimeout(resolve, 1000)); // what the warm-up queued is done

    const serverBefore = threadSeconds(server.pid);
    const pgBefore = snapshot(await postgresPidsFor(admin, database.name!));
    const started = performance.now();
    // Each connection signs in as its own user: one account's guesses are not the subject.
    await inParallel(Array.from({ length: LOGINS }, (_, i) => users[i % CONCURRENCY]!), CONCURRENCY, (user) => login(server.baseUrl, user));
    const wall = (performance.now() - started) / 1000;
    await new Promise((resolve) => setTimeout(resolve, 1000)); // the queue work they caused is theirs
    const serverAfter = threadSeconds(server.pid);
    const pgSeconds = cpuBetween(pgBefore, snapshot(await postgresPidsFor(admin, database.name!)));

    const ms = (seconds: number) => ((seconds / LOGINS) * 1000).toFixed(2).padStart(7);
    process.stdout.write(
      [
        '',
        `Login cost, PostgreSQL, ${LOGINS} logins ${CONCURRENCY} at a time, ${new Date().toISOString()} (${(LOGINS / wall).toFixed(1)} logins/s)`,
        `  server main thread ms/login   ${ms(serverAfter.main - serverBefore.main)}   (HTTP, JSON, SQL round trips, tokens)`,
        `  server other threads          ${ms(serverAfter.others - serverBefore.others)}   (argon2id on the threadpool, GC helpers)`,
        `  PostgreSQL                    ${ms(pgSeconds)}   (the database's backends, WAL writer, checkpointer)`,
        '',
      ].join('\n'),
    );
  } finally {
    await server.stop().catch(() => {});
    await admin.end().catch(() => {});
    await database.drop().catch(() => {});
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`login-cost failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
