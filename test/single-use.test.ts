// The one single-use mechanism (src/db/single-use.repo.ts): a row is spent once, even by two
// transactions racing for it; expired and spent rows are not live; the purge keeps a spent row
// until its cut-off. The feature suites (passwords, MFA, passkeys, SSO, OAuth) test each use.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addDays, addSeconds } from '../src/lib/clock.js';
import { hashSecret } from '../src/lib/random.js';
import { insertResetToken, resetTokens } from '../src/modules/passwords/passwords.repo.js';
import { startTestApp } from './helpers/app.js';
import { DATABASE_KINDS } from './helpers/database.js';
import { registerUser } from './helpers/fixtures.js';

for (const kind of DATABASE_KINDS) {
  describe(`single-use rows (${kind})`, () => {
    it('spends a row once, answers whether it is live, and purges it after its cut-off', async () => {
      const t = await startTestApp(kind);
      try {
        const db = t.app.ctx.db;
        const { user } = await registerUser(t.api);
        const now = t.clock.now();
        const hashes = ['a', 'b', 'c'].map((s) => hashSecret(`${s}-${user.id}`));
        for (const [i, tokenHash] of hashes.entries()) {
          await insertResetToken(db, { tokenHash, userId: user.id, expiresAt: addSeconds(now, i === 2 ? -1 : 3600), createdAt: now });
        }
        assert.equal(await resetTokens.countLive(db, { user_id: user.id }, now), 2, 'the expired one is not live');
        assert.equal((await resetTokens.findLive(db, { match: { token_hash: hashes[2]! }, now, columns: ['user_id'] })), undefined);

        // Two transactions race for the same row: the second waits for the first's row lock,
        // re-reads used_at, and matches nothing.
        const race = await Promise.all(
          [0, 1].map(() => db.transaction().execute((trx) => resetTokens.spend(trx, { match: { token_hash: hashes[0]! }, now, returning: ['user_id'] }))),
        );
        assert.deepEqual(race.filter(Boolean), [{ user_id: user.id }]);
        assert.equal(await resetTokens.spend(db, { match: { token_hash: hashes[0]! }, now }), undefined, 'spent');
        assert.equal(await resetTokens.spend(db, { match: { token_hash: hashes[2]! }, now }), undefined, 'expired');

        assert.equal(await resetTokens.spendAll(db, { user_id: user.id }, now), 1, 'only the live one is retired');
        assert.equal(await resetTokens.countLive(db, { user_id: user.id }, now), 0);

        // Spent (or expired) before the cut-off: purged; a day later all three go.
        assert.equal(await resetTokens.count(db, now), 1, 'the expired one');
        assert.equal(await resetTokens.count(db, addDays(now, 1)), 3);
        assert.equal(await resetTokens.purge(db, addDays(now, 1), 2), 2, 'one bounded batch');
        assert.equal(await resetTokens.purge(db, addDays(now, 1), 2), 1);
        assert.equal(await resetTokens.count(db, addDays(now, 1)), 0);
      } finally {
        await t.close();
      }
    });
  });
}
