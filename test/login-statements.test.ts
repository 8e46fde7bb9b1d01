// What a password login sends PostgreSQL, counted by the protocol proxy of bench/: each
// statement is a round trip, about a tenth of a millisecond of the event loop's time and half
// that of the database's on the machine of docs/performance.md (issue 31).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startSqlCounter, type SqlCounter } from '../bench/sql-counter.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from './helpers/database.js';
import { registerUser } from './helpers/fixtures.js';

describe('password login: statements (PostgreSQL)', { skip: DATABASE_KINDS.includes('postgres') ? false : 'TEST_DATABASE_URL is not set' }, () => {
  let t: TestApp;
  let counter: SqlCounter;
  let database: TestDatabase;
  before(async () => {
    database = await createTestDatabase('postgres');
    counter = await startSqlCounter(database.url!);
    // The queue's poll would add statements no request made.
    t = await startTestApp('postgres', { database: { ...database, env: { ...database.env, DATABASE_URL: counter.url } }, env: { OUTBOX_POLL_INTERVAL_MS: '600000' } });
  });
  after(async () => {
    await t?.close();
    await counter?.close();
    await database?.drop();
  });

  it('three: the look-up (with the guess reserved), the SSO policy, and the sign-in’s one write, sent without BEGIN and COMMIT', async () => {
    const { email, password } = await registerUser(t.api);
    let fewest = Infinity;
    for (let i = 0; i < 3; i++) {
      const before = counter.counts().statements;
      const response = await t.api.post('/auth/login/json', { email, password });
      assert.equal(response.status, 200);
      fewest = Math.min(fewest, counter.counts().statements - before);
    }
    // find_user_and_reserve_attempt; sso_enforced_for_domain; sign_in_writes, committing by
    // itself (db/after-commit.ts). Before: BEGIN and COMMIT around the policy's read and the write (five).
    assert.equal(fewest, 3);
  });
});
