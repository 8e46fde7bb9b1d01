// The hot statements (access-token lookup, refresh rotation) run as named prepared statements
// on PostgreSQL. What must hold: they really are prepared (unless switched off, for PgBouncer),
// and a running server keeps working when a migration adds a column under it.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { CompiledQuery, sql } from 'kysely';
import { openDatabase } from '../src/db/database.js';
import { isDatabaseUnavailable } from '../src/db/errors.js';
import { PGlitePool } from '../src/db/pglite-pool.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { preparedStatementName } from '../src/db/prepared.js';
import { openCliDatabase } from '../src/cli/cli-database.js';
import { loadConfig } from '../src/config.js';
import { readKeySetVersion } from '../src/modules/keys/keys.repo.js';
import { findUserInLiveSession } from '../src/modules/users/users.repo.js';
import { startTestApp } from './helpers/app.js';
import { createTestDatabase, DATABASE_KINDS } from './helpers/database.js';
import { registerAndSignIn } from './helpers/fixtures.js';

describe('prepared statements', () => {
  it('reads the statement name only from the leading marker', () => {
    assert.equal(preparedStatementName('/* prepared:user_in_live_session */\nSELECT 1'), 'user_in_live_session');
    assert.equal(preparedStatementName('SELECT 1 /* prepared:x */'), undefined);
    assert.equal(preparedStatementName('/* prepared:unterminated SELECT 1'), undefined);
  });

  it('the command line keeps DATABASE_PREPARED_STATEMENTS too (PgBouncer)', { skip: !DATABASE_KINDS.includes('postgres') && 'needs PostgreSQL' }, async () => {
    for (const prepared of [true, false]) {
      const database = await createTestDatabase('postgres');
      const handle = await openCliDatabase(loadConfig({ DATABASE_URL: database.url!, DATABASE_PREPARED_STATEMENTS: String(prepared) }));
      try {
        await migrateToLatest(handle.db);
        // One transaction: the statement and the look at pg_prepared_statements share its connection.
        const names = await handle.db.transaction().execute(async (trx) => {
          await readKeySetVersion(trx);
          return (await sql<{ name: string }>`SELECT name FROM pg_prepared_statements`.execute(trx)).rows.map((row) => row.name);
        });
        assert.deepEqual(names, prepared ? ['key_set_version'] : [], `DATABASE_PREPARED_STATEMENTS=${prepared}`);
      } finally {
        await handle.close();
        await database.drop();
      }
    }
  });

  for (const kind of DATABASE_KINDS) {
    for (const prepared of [true, false]) {
      it(`${prepared ? 'prepares' : 'does not prepare'} the hot statements with DATABASE_PREPARED_STATEMENTS=${prepared} (${kind})`, async () => {
        const database = await createTestDatabase(kind);
        // One connection, so the statement and the look at pg_prepared_statements share it.
        const handle = await openDatabase({ databaseUrl: database.url, dataDir: 'memory://', poolSize: 1, preparedStatements: prepared });
        try {
          await migrateToLatest(handle.db);
          assert.equal(await findUserInLiveSession(handle.db, randomUUID(), randomUUID()), undefined);
          assert.equal(await findUserInLiveSession(handle.db, randomUUID(), randomUUID()), undefined, 'runs again once prepared');
          const { rows } = await sql<{ name: string }>`SELECT name FROM pg_prepared_statements`.execute(handle.db);
          assert.deepEqual(rows.map((row) => row.name), prepared ? ['user_in_live_session'] : []);
        } finally {
          await handle.close();
          await database.drop();
        }
      });
    }
  }

  it('runs a prepared statement on the embedded database as its query would: types, rows, errors, transactions', async () => {
    const handle = await openDatabase({ dataDir: 'memory://' });
    const both = async (name: string, text: string, parameters: unknown[]) => {
      const run = (marked: string) => handle.db.executeQuery(CompiledQuery.raw(marked, parameters));
      const [plain, once, twice] = [await run(text), await run(`/* prepared:${name} */\n${text}`), await run(`/* prepared:${name} */\n${text}`)];
      assert.deepEqual(once, plain);
      assert.deepEqual(twice, plain);
      return plain.rows;
    };
    try {
      await sql`CREATE TABLE t (id int PRIMARY KEY, at timestamptz, tags text[], n int8, b bytea, j jsonb)`.execute(handle.db);
      const at = new Date('2026-01-02T03:04:05.678Z');
      assert.deepEqual(
        await both('t_insert', 'INSERT INTO t VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO UPDATE SET at = EXCLUDED.at RETURNING *', [1, at, ['a', 'b,c'], '9007199254740993', Buffer.from([1, 2]), { k: [1] }]),
        [{ id: 1, at, tags: ['a', 'b,c'], n: '9007199254740993', b: new Uint8Array([1, 2]), j: { k: [1] } }],
      );
      assert.deepEqual(await both('t_none', 'SELECT id FROM t WHERE id = $1 AND at > $2', [1, null]), []);
      assert.deepEqual(await both('t_update', 'UPDATE t SET tags = $2 WHERE id = $1', [1, []]), []);
      // A refused statement fails as its query does, and leaves the connection usable.
      const insert = CompiledQuery.raw('/* prepared:t_dup */\nINSERT INTO t (id) VALUES ($1)', [1]);
      await assert.rejects(handle.db.executeQuery(insert), { code: '23505' });
      await assert.rejects(handle.db.executeQuery(insert), { code: '23505' });
      assert.equal((await sql<{ n: number }>`SELECT count(*)::int AS n FROM t`.execute(handle.db)).rows[0]!.n, 1);
      // In a transaction it takes part in it: rolled back with it.
      await handle.db.transaction().execute(async (trx) => {
        await trx.executeQuery(CompiledQuery.raw('/* prepared:t_add */\nINSERT INTO t (id) VALUES ($1)', [2]));
        await trx.executeQuery(CompiledQuery.raw('/* prepared:t_add */\nINSERT INTO t (id) VALUES ($1)', [3]));
      });
      await assert.rejects(
        handle.db.transaction().execute(async (trx) => {
          await trx.executeQuery(CompiledQuery.raw('/* prepared:t_add */\nINSERT INTO t (id) VALUES ($1)', [4]));
          await trx.executeQuery(insert);
        }),
        { code: '23505' },
      );
      assert.deepEqual((await sql<{ id: number }>`SELECT id FROM t ORDER BY id`.execute(handle.db)).rows, [{ id: 1 }, { id: 2 }, { id: 3 }]);
      // One name, one text, as `pg` insists.
      await assert.rejects(handle.db.executeQuery(CompiledQuery.raw('/* prepared:t_add */\nSELECT 1 WHERE $1::int > 0', [1])), /another text/);
    } finally {
      await handle.close();
    }
  });

  it('on a closed embedded database, a prepared statement fails as "unavailable" (a 503), as its query does', async () => {
    const pool = await PGlitePool.open(undefined);
    const client = await pool.connect();
    const text = '/* prepared:closed_check */\nSELECT $1::int AS n';
    assert.deepEqual((await client.query(text, [1])).rows, [{ n: 1 }]);
    client.release();
    await pool.end();
    const after = await pool.connect();
    for (const sqlText of [text, 'SELECT 1']) {
      const err = await after.query(sqlText, [1]).then(() => undefined, (e: unknown) => e);
      assert.ok(isDatabaseUnavailable(err), `${sqlText}: ${String(err)}`);
    }
  });

  for (const kind of DATABASE_KINDS) {
    it(`keeps answering /auth/me and /auth/refresh after a migration adds a column to users (${kind})`, async () => {
      // One connection: the statements are surely prepared on the connection that runs them next.
      const t = await startTestApp(kind, { env: { DATABASE_POOL_SIZE: '1' } });
      try {
        const u = await registerAndSignIn(t.api);
        assert.equal((await t.api.get('/auth/me', u.accessToken)).status, 200);
        const first = await t.api.post('/auth/refresh', { refresh_token: u.refreshToken });
        assert.equal(first.status, 200);
        await sql`ALTER TABLE users ADD COLUMN nickname text`.execute(t.app.ctx.db);
        await sql`ALTER TABLE refresh_tokens ADD COLUMN device text`.execute(t.app.ctx.db);
        const me = await t.api.get('/auth/me', u.accessToken);
        assert.equal(me.status, 200, JSON.stringify(me.body));
        assert.equal(me.body.id, u.id);
        const second = await t.api.post('/auth/refresh', { refresh_token: first.body.refresh_token });
        assert.equal(second.status, 200, JSON.stringify(second.body));
      } finally {
        await t.close();
      }
    });
  }
});
