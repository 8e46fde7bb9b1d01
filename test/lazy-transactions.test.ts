// The driver's transactions (db/after-commit.ts): BEGIN goes with the first statement, a
// transaction that sends nothing costs nothing, and a first statement marked as the whole of
// its change (endsItsChange) is sent without BEGIN and COMMIT. What was sent is counted by the
// protocol proxy of bench/ on PostgreSQL; the embedded database checks the behaviour only.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { startSqlCounter, type SqlCounter } from '../bench/sql-counter.js';
import { afterCommit, endingItsChange } from '../src/db/after-commit.js';
import { markedAs, preparedStatementName } from '../src/db/prepared.js';
import { openDatabase, type DatabaseHandle, type Executor } from '../src/db/database.js';
import { writeOf, writeTogether } from '../src/db/together.js';
import { createTestDatabase, DATABASE_KINDS, openMemoryDatabase, type TestDatabase } from './helpers/database.js';

const record = (db: Executor, label: string, endsItsChange: boolean) =>
  writeTogether(db, [writeOf(sql`INSERT INTO lazy_probe (label) VALUES (${label})`.compile(db))], { endsItsChange });

it('the mark goes after a prepared statement’s name, which stays readable', () => {
  assert.equal(preparedStatementName(endingItsChange(markedAs('some_write', 'UPDATE t SET a = $1'))), 'some_write');
  assert.match(endingItsChange('UPDATE t SET a = $1'), /^\/\* ends its change \*\/\n/);
});

for (const kind of DATABASE_KINDS) {
  describe(`transactions begin with their first statement (${kind})`, () => {
    let handle: DatabaseHandle;
    let database: TestDatabase | undefined;
    let counter: SqlCounter | undefined;
    before(async () => {
      if (kind === 'pglite') handle = await openMemoryDatabase();
      else {
        database = await createTestDatabase('postgres');
        counter = await startSqlCounter(database.url!);
        handle = await openDatabase({ databaseUrl: counter.url, dataDir: '' });
      }
      await sql`CREATE TABLE lazy_probe (label text PRIMARY KEY)`.execute(handle.db);
    });
    after(async () => {
      await handle?.close();
      await counter?.close();
      await database?.drop();
    });
    const row = (label: string) => handle.db.selectFrom('lazy_probe' as never).selectAll().where('label' as never, '=', label as never).executeTakeFirst() as Promise<{ label: string } | undefined>;
    /** Statements `work` sent (PostgreSQL), or undefined where they are not counted. */
    const sentBy = async (work: () => Promise<unknown>): Promise<number | undefined> => {
      const before = counter?.counts().statements;
      await work();
      return counter ? counter.counts().statements - before! : undefined;
    };
    const expected = (n: number) => (counter ? n : undefined);

    it('a first statement marked as the whole change is sent alone; its hooks run; one after it is refused', async () => {
      const ran: string[] = [];
      const sent = await sentBy(() =>
        handle.db.transaction().execute(async (trx) => {
          await record(trx, 'alone', true);
          await afterCommit(trx, () => ran.push('hook'));
        }),
      );
      assert.equal(sent, expected(1), 'no BEGIN, no COMMIT');
      assert.deepEqual([(await row('alone'))?.label, ran], ['alone', ['hook']]);

      await assert.rejects(
        handle.db.transaction().execute(async (trx) => {
          await record(trx, 'first', true);
          await record(trx, 'second', false);
        }),
        /a statement after the one marked as the whole of its change/,
      );
      assert.equal((await row('first'))?.label, 'first', 'the first had committed by itself');
      assert.equal(await row('second'), undefined);
    });

    it('a marked statement after others is one of the transaction, and rolls back with it', async () => {
      await assert.rejects(
        handle.db.transaction().execute(async (trx) => {
          await record(trx, 'before', false);
          await record(trx, 'last', true);
          throw new Error('the work fails after its last statement');
        }),
        /the work fails/,
      );
      assert.deepEqual([await row('before'), await row('last')], [undefined, undefined]);
      const sent = await sentBy(() => handle.db.transaction().execute((trx) => record(trx, 'in-block', false)));
      assert.equal(sent, expected(3), 'BEGIN went before an unmarked statement, and COMMIT after it');
    });

    it('one statement name, marked once and not once: the unmarked use stays in its transaction', async () => {
      const both = (db: Executor, label: string, endsItsChange: boolean) =>
        writeTogether(db, [
          writeOf(sql`INSERT INTO lazy_probe (label) VALUES (${`${label}-a`})`.compile(db)),
          writeOf(sql`INSERT INTO lazy_probe (label) VALUES (${`${label}-b`})`.compile(db)),
        ], { preparedAs: 'lazy_probe_pair', endsItsChange });
      await handle.db.transaction().execute((trx) => both(trx, 'marked', true));
      assert.equal((await row('marked-a'))?.label, 'marked-a');
      // Unmarked, the same writes must not be sent as a change's end (before: the text kept for
      // the name still carried the mark, and this first statement committed by itself). Either
      // the driver refuses the name's second text, or the statement is one of the transaction:
      // what the failed change wrote is gone in both cases.
      await assert.rejects(
        handle.db.transaction().execute(async (trx) => {
          await both(trx, 'unmarked', false);
          await record(trx, 'unmarked-c', false);
          throw new Error('the work fails');
        }),
      );
      assert.deepEqual([await row('unmarked-a'), await row('unmarked-c')], [undefined, undefined]);
    });

    it('a marked statement that fails commits nothing and runs no hook', async () => {
      const ran: string[] = [];
      await assert.rejects(
        handle.db.transaction().execute(async (trx) => {
          await afterCommit(trx, () => ran.push('hook'));
          await record(trx, 'alone', true); // the primary key is taken
        }),
        /duplicate key|unique/,
      );
      assert.deepEqual(ran, []);
    });

    it('a transaction that sends nothing costs nothing, and one with an isolation level begins at once', async () => {
      const ran: string[] = [];
      assert.equal(await sentBy(() => handle.db.transaction().execute((trx) => afterCommit(trx, () => ran.push('hook')))), expected(0));
      assert.deepEqual(ran, ['hook']);
      const level = await handle.db.transaction().setIsolationLevel('repeatable read').execute((trx) =>
        sql<{ transaction_isolation: string }>`SHOW transaction_isolation`.execute(trx).then((r) => r.rows[0]!.transaction_isolation),
      );
      assert.equal(level, 'repeatable read');
    });
  });
}
