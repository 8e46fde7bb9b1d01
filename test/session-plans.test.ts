// The hot statements (the access-token session check behind every authenticated request, and
// the refresh rotation) must reach their rows through the unique keys whatever the planner's
// statistics say. The case that went wrong: statistics gathered while a user had no sessions,
// then 10,000 sessions for that user; a plan through the per-user partial indexes then costs
// in proportion to the user's live sessions. Each statement is EXPLAINed as prepared, with
// both the generic plan (what a long-lived prepared statement ends up with) and a custom one.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { sql, type Transaction } from 'kysely';
import type { Database } from '../src/db/schema.js';
import type { PreparedStatement } from '../src/db/prepared.js';
import { rotation } from '../src/modules/sessions/refresh-tokens.repo.js';
import { userInLiveSession } from '../src/modules/users/users.repo.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { DATABASE_KINDS } from './helpers/database.js';
import { registerAndSignIn } from './helpers/fixtures.js';

const HOT_TABLES = new Set(['users', 'sessions', 'refresh_tokens']);
// users_id_account_id_key (migrations/0017, SCIM's tenant-scoped foreign keys) leads with the
// primary key's column and is unique too: one row, as by users_pkey.
const UNIQUE_KEYS = new Set(['users_pkey', 'users_id_account_id_key', 'sessions_pkey', 'refresh_tokens_pkey', 'refresh_tokens_token_hash_key']);

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

/** Every access to a hot table in the plan: `table via index` (or `table via Seq Scan`). */
function accesses(node: PlanNode, found: string[] = []): string[] {
  if (node['Relation Name'] && HOT_TABLES.has(node['Relation Name']) && node['Node Type'] !== 'ModifyTable') {
    found.push(`${node['Relation Name']} via ${node['Index Name'] ?? node['Node Type']}`);
  }
  if (node['Node Type'].startsWith('Bitmap Index Scan')) found.push(`bitmap via ${node['Index Name']}`);
  for (const child of node.Plans ?? []) accesses(child, found);
  return found;
}

async function explainPrepared(trx: Transaction<Database>, statement: PreparedStatement<unknown>, parameters: string[], mode: 'force_generic_plan' | 'force_custom_plan'): Promise<string[]> {
  const name = `plan_test_${randomUUID().replaceAll('-', '')}`;
  await sql.raw(`SET LOCAL plan_cache_mode = ${mode}`).execute(trx);
  await sql.raw(`PREPARE ${name} AS ${statement.text}`).execute(trx);
  const literals = parameters.map((p) => `'${p.replaceAll("'", "''")}'`).join(', ');
  const result = await sql.raw<{ 'QUERY PLAN': unknown }>(`EXPLAIN (FORMAT JSON) EXECUTE ${name}(${literals})`).execute(trx);
  await sql.raw(`DEALLOCATE ${name}`).execute(trx);
  const raw = result.rows[0]!['QUERY PLAN'];
  const plan = (typeof raw === 'string' ? JSON.parse(raw) : raw) as Array<{ Plan: PlanNode }>;
  return accesses(plan[0]!.Plan);
}

for (const kind of DATABASE_KINDS) {
  describe(`hot statement plans (${kind})`, () => {
    let t: TestApp;
    let userId: string;
    const plans = new Map<string, string[]>();
    const MODES = ['force_generic_plan', 'force_custom_plan'] as const;

    /** EXPLAINs both statements in both modes for the user's first live session. */
    async function explainAll(situation: string): Promise<void> {
      const db = t.app.ctx.db;
      const row = await sql<{ session_id: string; token_hash: string }>`
        SELECT session_id, token_hash FROM refresh_tokens WHERE user_id = ${userId} AND revoked_at IS NULL LIMIT 1`.execute(db);
      const { session_id: sessionId, token_hash: tokenHash } = row.rows[0]!;
      const now = new Date().toISOString();
      const later = new Date(Date.now() + 86_400_000).toISOString();
      for (const mode of MODES) {
        await db.transaction().execute(async (trx) => {
          plans.set(`${situation} me ${mode}`, await explainPrepared(trx, userInLiveSession, [userId, sessionId], mode));
          const parameters = [now, randomUUID(), tokenHash, userId, 'child-hash', now, later, '127.0.0.1'];
          plans.set(`${situation} refresh ${mode}`, await explainPrepared(trx, rotation, parameters, mode));
        });
      }
    }

    before(async () => {
      t = await startTestApp(kind);
      const db = t.app.ctx.db;
      userId = (await registerAndSignIn(t.api)).id;
      await explainAll('fresh');
      // A population to gather statistics on: 5,000 other users.
      const account = randomUUID();
      await sql`INSERT INTO accounts (id, name, display_code) VALUES (${account}, 'filler', 'FILLER01')`.execute(db);
      await sql`
        INSERT INTO users (id, email, name, account_id, account_role)
        SELECT gen_random_uuid(), 'filler-' || i || '@example.com', 'Filler', ${account}, 'member' FROM generate_series(1, 5000) i`.execute(db);
      // Each filler user has one live session (and two revoked), each session three tokens of
      // which at most the newest is live: the per-user partial indexes are then smaller than
      // the unique ones, and an estimate of one row per user makes them look as good.
      await sql`
        WITH s AS (
          INSERT INTO sessions (id, user_id, created_at, last_used_at, revoked_at)
          SELECT gen_random_uuid(), u.id, now(), now(), CASE WHEN k = 1 THEN NULL ELSE now() END
            FROM users u CROSS JOIN generate_series(1, 3) k
           WHERE u.account_id = ${account}
          RETURNING id, user_id, revoked_at
        )
        INSERT INTO refresh_tokens (id, token_hash, user_id, session_id, issued_at, expires_at, revoked_at)
        SELECT gen_random_uuid(), md5(s.id::text || n) || md5(random()::text), s.user_id, s.id, now(), now() + interval '7 days',
               CASE WHEN s.revoked_at IS NULL AND n = 3 THEN NULL ELSE now() END
          FROM s CROSS JOIN generate_series(1, 3) n`.execute(db);
      // Statistics from before the user's sessions existed (autovacuum could refresh them on
      // PostgreSQL, but not within this test's seconds).
      await sql`ANALYZE`.execute(db);
      await sql`
        WITH s AS (
          INSERT INTO sessions (id, user_id, created_at, last_used_at)
          SELECT gen_random_uuid(), ${userId}, now(), now() FROM generate_series(1, 10000)
          RETURNING id, user_id
        )
        INSERT INTO refresh_tokens (id, token_hash, user_id, session_id, issued_at, expires_at)
        SELECT gen_random_uuid(), md5(s.id::text) || md5(random()::text), s.user_id, s.id, now(), now() + interval '7 days' FROM s`.execute(db);
      await explainAll('stale');
    });
    after(() => t?.close());

    for (const situation of ['fresh', 'stale'] as const) {
      const when = situation === 'fresh' ? 'no statistics yet' : 'stale statistics, 10,000 sessions';
      for (const mode of MODES) {
        it(`the access-token check reaches the session by its primary key (${when}, ${mode})`, () => {
          const found = plans.get(`${situation} me ${mode}`)!;
          for (const access of found) assert.ok(UNIQUE_KEYS.has(access.split(' via ')[1]!), `${access} in ${found.join(', ')}`);
          assert.ok(found.includes('sessions via sessions_pkey'), found.join(', '));
        });

        it(`the refresh rotation reaches the token by its hash and the session by its primary key (${when}, ${mode})`, () => {
          const found = plans.get(`${situation} refresh ${mode}`)!;
          for (const access of found) assert.ok(UNIQUE_KEYS.has(access.split(' via ')[1]!), `${access} in ${found.join(', ')}`);
          assert.ok(found.includes('refresh_tokens via refresh_tokens_token_hash_key'), found.join(', '));
          assert.ok(found.includes('refresh_tokens via refresh_tokens_pkey'), found.join(', '));
          assert.ok(found.includes('sessions via sessions_pkey'), found.join(', '));
        });
      }
    }
  });
}
