// No password, token or hash in any log line, audit payload, error body or stray column:
// drive every flow that handles a secret, then grep what the service kept.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { sql } from 'kysely';
import { startTestApp, type TestApp } from './helpers/app.js';
import { DATABASE_KINDS } from './helpers/database.js';
import { uniqueEmail } from './helpers/fixtures.js';
import { queuedEmails } from './helpers/jobs.js';
import { smtpEnv, startSmtpServer, tokenFromLink, type TestSmtpServer } from './helpers/smtp.js';

const FIRST_PASSWORD = 'first-Secret-passphrase-1';
const SECOND_PASSWORD = 'second-Secret-passphrase-2';
const THIRD_PASSWORD = 'third-Secret-passphrase-3';
const WRONG_GUESS = 'a-wrong-Secret-guess';

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
      // Every secret is recorded the moment it exists (a hash read right after the call that
      // made it, not after later changes replaced it), then looked for everywhere.
      const raw = new Map<string, string>(); // secret -> what it is
      const hashes = new Map<string, string>();
      const remember = (into: Map<string, string>, what: string, value: string | null | undefined) => {
        assert.ok(value && value.length >= 8, `${what} exists`);
        if (!into.has(value)) into.set(value, what);
      };
      const rememberToken = (what: string, token: string) => {
        remember(raw, what, token);
        const { jti } = decodeJwt(token);
        remember(raw, `${what} jti`, jti);
      };
      for (const password of [FIRST_PASSWORD, SECOND_PASSWORD, THIRD_PASSWORD, WRONG_GUESS]) remember(raw, 'a password', password);

      const email = uniqueEmail('secret');
      const replies: Array<{ what: string; text: string; carries: string[] }> = [];
      const recordStored = async (after: string) => {
        const user = await t.app.ctx.db.selectFrom('users').select('password_hash').where('email', '=', email).executeTakeFirst();
        if (user) remember(hashes, `password hash after ${after}`, user.password_hash);
        for (const table of ['refresh_tokens', 'password_reset_tokens', 'email_verification_tokens'] as const) {
          for (const row of await t.app.ctx.db.selectFrom(table).select('token_hash').execute()) remember(hashes, `${table}.token_hash after ${after}`, row.token_hash);
        }
      };
      const call = async (method: string, path: string, json?: unknown, token?: string) => {
        const res = await t.api.request(method, path, { json, token });
        const what = `${method} ${path} → ${res.status}`;
        // A token reply carries its own two tokens, and nothing else secret.
        const carries = [res.body?.access_token, res.body?.refresh_token].filter((v): v is string => typeof v === 'string');
        replies.push({ what, text: JSON.stringify(res.body ?? '') + JSON.stringify([...res.headers]), carries });
        carries.forEach((issued, i) => rememberToken(`${i === 0 ? 'access' : 'refresh'} token from ${what}`, issued));
        await recordStored(what);
        return res;
      };

      assert.equal((await call('POST', '/auth/register', { email, password: FIRST_PASSWORD, name: 'Secret Keeper' })).status, 201);
      const verification = tokenFromLink(await smtp.waitForMessage(email), '/verify-email');
      rememberToken('verification token', verification);
      const login = await call('POST', '/auth/login/json', { email, password: FIRST_PASSWORD });
      assert.equal(login.status, 200);
      await call('POST', '/auth/login/json', { email, password: WRONG_GUESS });
      const refreshed = await call('POST', '/auth/refresh', { refresh_token: login.body.refresh_token });
      await call('POST', '/auth/refresh', { refresh_token: login.body.refresh_token }); // the parent, within the grace interval
      await call('GET', '/auth/me', undefined, refreshed.body.access_token);
      await call('POST', '/auth/email/verify', { token: verification });
      await call('POST', '/auth/email/verify', { token: verification });
      await call('POST', '/auth/password/change', { current_password: FIRST_PASSWORD, new_password: SECOND_PASSWORD }, refreshed.body.access_token);
      await call('POST', '/auth/password/forgot', { email });
      const reset = tokenFromLink(await smtp.waitForMessage(email), '/reset-password');
      rememberToken('reset token', reset);
      await call('POST', '/auth/password/verify-reset-token', { token: reset });
      await call('POST', '/auth/password/reset', { token: reset, new_password: THIRD_PASSWORD });
      await call('POST', '/auth/password/reset', { token: reset, new_password: THIRD_PASSWORD });
      const last = await call('POST', '/auth/login/json', { email, password: THIRD_PASSWORD });
      assert.equal(last.status, 200);
      await call('POST', '/auth/logout', { refresh_token: last.body.refresh_token });
      await call('POST', '/auth/refresh', { refresh_token: last.body.refresh_token });
      const seen = [...hashes.values()];
      assert.equal(seen.filter((what) => what.startsWith('password hash')).length, 3, 'one password hash per password');
      for (const table of ['refresh_tokens', 'password_reset_tokens', 'email_verification_tokens']) {
        assert.ok(seen.some((what) => what.startsWith(table)), `a ${table} hash was recorded`);
      }

      // Let the worker finish with the queued emails, then dump every table as text.
      for (let i = 0; i < 50; i++) {
        const pending = await queuedEmails(t.app.ctx.db, { status: 'pending' });
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

      for (const [secret, what] of raw) {
        assert.equal(logs.includes(secret), false, `${what} is in the logs`);
        assert.equal(dump.includes(secret), false, `${what} is in the database`);
      }
      for (const [hash, what] of hashes) {
        assert.equal(logs.includes(hash), false, `${what} is in the logs`);
        assert.equal(audit.includes(hash), false, `${what} is in an audit payload`);
      }
      for (const reply of replies) {
        for (const [secret, what] of [...raw, ...hashes]) {
          if (reply.carries.includes(secret)) continue;
          assert.equal(reply.text.includes(secret), false, `${what} is in the reply to ${reply.what}`);
        }
      }
    });
  });
}
