// No password, token or hash in any log line, audit payload, error body or stray column:
// drive every flow that handles a secret, then grep what the service kept.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { startTestApp, type TestApp } from './helpers/app.js';
import { DATABASE_KINDS } from './helpers/database.js';
import { uniqueEmail } from './helpers/fixtures.js';
import { smtpEnv, startSmtpServer, tokenFromLink, type TestSmtpServer } from './helpers/smtp.js';

const FIRST_PASSWORD = 'first-Secret-passphrase-1';
const SECOND_PASSWORD = 'second-Secret-passphrase-2';
const THIRD_PASSWORD = 'third-Secret-passphrase-3';

for (const kind of DATABASE_KINDS) {
  describe(`secrets never leak (${kind})`, () => {
    let t: TestApp;
    let smtp: TestSmtpServer;
    before(async () => {
      smtp = await startSmtpServer();
      t = await startTestApp(kind, { env: { ...smtpEnv(smtp), LOG_LEVEL: 'trace' } });
    });
    after(async () => {
      await t.close();
      await smtp.close();
    });

    it('keeps raw passwords and tokens out of logs, audit rows, replies and the database', async () => {
      const secrets: string[] = [FIRST_PASSWORD, SECOND_PASSWORD, THIRD_PASSWORD];
      const replies: string[] = [];
      const call = async (method: string, path: string, json?: unknown, token?: string) => {
        const res = await t.api.request(method, path, { json, token });
        replies.push(JSON.stringify(res.body ?? ''));
        return res;
      };

      const email = uniqueEmail('secret');
      await call('POST', '/auth/register', { email, password: FIRST_PASSWORD, name: 'Secret Keeper' });
      const verification = tokenFromLink(await smtp.waitForMessage(email), '/verify-email');
      secrets.push(verification);
      const login = await call('POST', '/auth/login/json', { email, password: FIRST_PASSWORD });
      secrets.push(login.body.access_token, login.body.refresh_token);
      await call('POST', '/auth/login/json', { email, password: 'a-wrong-Secret-guess' });
      secrets.push('a-wrong-Secret-guess');
      const refreshed = await call('POST', '/auth/refresh', { refresh_token: login.body.refresh_token });
      secrets.push(refreshed.body.access_token, refreshed.body.refresh_token);
      await call('POST', '/auth/email/verify', { token: verification });
      await call('POST', '/auth/email/verify', { token: verification });
      await call('POST', '/auth/password/change', { current_password: FIRST_PASSWORD, new_password: SECOND_PASSWORD }, refreshed.body.access_token);
      await call('POST', '/auth/password/forgot', { email });
      const reset = tokenFromLink(await smtp.waitForMessage(email), '/reset-password');
      secrets.push(reset);
      await call('POST', '/auth/password/verify-reset-token', { token: reset });
      await call('POST', '/auth/password/reset', { token: reset, new_password: THIRD_PASSWORD });
      await call('POST', '/auth/password/reset', { token: reset, new_password: THIRD_PASSWORD });
      const last = await call('POST', '/auth/login/json', { email, password: THIRD_PASSWORD });
      assert.equal(last.status, 200);
      secrets.push(last.body.access_token, last.body.refresh_token);
      await call('POST', '/auth/logout', { refresh_token: last.body.refresh_token });
      await call('POST', '/auth/refresh', { refresh_token: last.body.refresh_token });

      const user = await t.app.ctx.db.selectFrom('users').select('password_hash').where('email', '=', email).executeTakeFirstOrThrow();
      const hashes = [user.password_hash!];
      for (const table of ['refresh_tokens', 'password_reset_tokens', 'email_verification_tokens'] as const) {
        const rows = await t.app.ctx.db.selectFrom(table).select('token_hash').execute();
        hashes.push(...rows.map((r) => r.token_hash));
      }

      // Let the worker finish with the outbox, then dump every table as text.
      for (let i = 0; i < 50; i++) {
        const pending = await t.app.ctx.db.selectFrom('email_outbox').select('id').where('status', '=', 'pending').execute();
        if (pending.length === 0) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const tables = await sql<{ tablename: string }>`SELECT tablename FROM pg_tables WHERE schemaname = 'public'`.execute(t.app.ctx.db);
      let dump = '';
      for (const { tablename } of tables.rows) {
        const rows = await sql<{ row: string }>`SELECT t::text AS row FROM ${sql.table(tablename)} t`.execute(t.app.ctx.db);
        dump += `${tablename}:${rows.rows.map((r) => r.row).join('\n')}\n`;
      }
      const audit = JSON.stringify((await t.app.ctx.db.selectFrom('audit_logs').selectAll().execute()).map((row) => row.details));
      const logs = t.logs.join('');
      assert.ok(logs.length > 1000, 'the app did log');

      for (const secret of secrets) {
        assert.ok(secret && secret.length >= 8);
        assert.equal(logs.includes(secret), false, `a secret is in the logs: ${secret.slice(0, 12)}…`);
        assert.equal(dump.includes(secret), false, `a secret is in the database: ${secret.slice(0, 12)}…`);
        for (const reply of replies.slice(0)) {
          if (reply.includes('access_token')) continue;
          assert.equal(reply.includes(secret), false, `a secret is in a reply: ${reply.slice(0, 80)}`);
        }
      }
      for (const hash of hashes) {
        assert.equal(logs.includes(hash), false, 'a hash is in the logs');
        assert.equal(audit.includes(hash), false, 'a hash is in an audit payload');
        assert.equal(replies.some((reply) => reply.includes(hash)), false, 'a hash is in a reply');
      }
    });
  });
}
