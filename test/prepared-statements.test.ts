// The hot statements (access-token lookup, refresh rotation) run as named prepared statements
// on PostgreSQL. What must hold: they really are prepared (unless switched off, for PgBouncer),
// and a running server keeps working when a migration adds a column under it.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import { openDatabase } from '../src/db/database.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { preparedStatementName } from '../src/db/prepared.js';
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

  if (DATABASE_KINDS.includes('postgres')) {
    for (const prepared of [true, false]) {
      it(`${prepared ? 'prepares' : 'does not prepare'} the hot statements with DATABASE_PREPARED_STATEMENTS=${prepared}`, async () => {
        const database = await createTestDatabase('postgres');
        // One connection, so the statement and the look at pg_prepared_statements share it.
        const handle = await openDatabase({ databaseUrl: database.url, dataDir: 'unused', poolSize: 1, preparedStatements: prepared });
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
