// db/together.ts: independent writes sent as one statement (data-modifying CTEs), as a SCIM
// creation sends its user's SCIM row, audit row, events and setup email.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import { openDatabase, type DatabaseHandle } from '../src/db/database.js';
import { renumber, writeOf, writeTogether } from '../src/db/together.js';
import { createTestDatabase, DATABASE_KINDS, openMemoryDatabase, type DatabaseKind } from './helpers/database.js';

async function open(kind: DatabaseKind): Promise<{ handle: DatabaseHandle; drop(): Promise<void> }> {
  if (kind === 'pglite') {
    const handle = await openMemoryDatabase();
    return { handle, drop: () => handle.close() };
  }
  const database = await createTestDatabase('postgres');
  const handle = await openDatabase({ databaseUrl: database.url!, dataDir: '' });
  return { handle, drop: async () => { await handle.close(); await database.drop(); } };
}

describe('writeTogether', () => {
  it('renumbers placeholders after the first write, and refuses a "$" inside quotes', () => {
    assert.equal(renumber('INSERT INTO t (a, b) VALUES ($1, $2)', 3), 'INSERT INTO t (a, b) VALUES ($4, $5)');
    assert.equal(renumber(`SELECT 'it''s', "x" WHERE a = $10`, 2), `SELECT 'it''s', "x" WHERE a = $12`);
    assert.throws(() => renumber(`SELECT '$1' WHERE a = $1`, 1), /quoted/);
  });

  it('refuses a read that does not say `returning` (unreferenced, it would never run)', async () => {
    const unused = { executeQuery: () => assert.fail('nothing is sent') } as never;
    await assert.rejects(
      writeTogether(unused, [{ sql: 'INSERT INTO t (a) VALUES ($1)', parameters: [1] }, { sql: ' select a FROM t', parameters: [] }]),
      /a SELECT must say `returning`/,
    );
  });

  for (const kind of DATABASE_KINDS) {
    it(`writes every write in one statement, returns the RETURNING rows, and all or nothing (${kind})`, async () => {
      const { handle, drop } = await open(kind);
      const { db } = handle;
      try {
        await sql`CREATE TABLE together_a (id int PRIMARY KEY, label text NOT NULL)`.execute(db);
        await sql`CREATE TABLE together_b (a_id int NOT NULL REFERENCES together_a (id), note text)`.execute(db);
        const seen: unknown[] = [];
        const rows = await writeTogether(db, [
          writeOf(sql`INSERT INTO together_a (id, label) VALUES (${1}, ${'one'}), (${2}, ${'two'}) RETURNING id, label`.compile(db), { returning: true, then: (_, r) => void seen.push(...r) }),
          // Its parent row is written by the CTE above, in the same statement: the foreign key is checked at its end.
          writeOf(sql`INSERT INTO together_b (a_id, note) VALUES (${1}, ${'first'})`.compile(db)),
          writeOf(sql`INSERT INTO together_b (a_id, note) VALUES (${2}, ${'second'}) RETURNING note`.compile(db), { returning: true }),
          // A read going along: the statement's snapshot, so not the rows written above.
          writeOf(sql`SELECT count(*)::int AS n FROM together_a WHERE ${true}`.compile(db), { returning: true }),
        ]);
        assert.deepEqual(rows[0]!.map((r) => r.label).sort(), ['one', 'two']);
        assert.deepEqual(rows[1], []);
        assert.deepEqual(rows[2], [{ note: 'second' }]);
        assert.deepEqual(rows[3], [{ n: 0 }]);
        assert.equal(seen.length, 2);
        const b = await sql<{ a_id: number; note: string }>`SELECT a_id, note FROM together_b ORDER BY a_id`.execute(db);
        assert.deepEqual(b.rows, [{ a_id: 1, note: 'first' }, { a_id: 2, note: 'second' }]);

        // One write fails (a duplicate key): none of them is written.
        await assert.rejects(writeTogether(db, [
          writeOf(sql`INSERT INTO together_b (a_id, note) VALUES (${1}, ${'lost'})`.compile(db)),
          writeOf(sql`INSERT INTO together_a (id, label) VALUES (${1}, ${'again'})`.compile(db)),
        ]));
        const count = await sql<{ n: number }>`SELECT count(*)::int AS n FROM together_b`.execute(db);
        assert.equal(count.rows[0]!.n, 2);
      } finally {
        await drop();
      }
    });
  }
});
