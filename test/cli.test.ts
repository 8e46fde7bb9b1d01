// The operator command line, run as the real binary against the embedded database (a temp
// DATA_DIR) and, when TEST_DATABASE_URL is set, a fresh PostgreSQL database. The embedded
// database is one process at a time, so the app is only started between CLI calls.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestApp } from './helpers/app.js';
import { FakeClock } from './helpers/clock.js';
import { runCli, runCliJson } from './helpers/cli.js';
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from './helpers/database.js';
import { registerAndSignIn, signIn, uniqueEmail } from './helpers/fixtures.js';

const ADMIN_PASSWORD = 'operator password 1';

describe('keyhold command line', { concurrency: true }, () => {
  for (const kind of DATABASE_KINDS) {
    describe(kind, { concurrency: false }, () => {
      let database: TestDatabase;
      let env: Record<string, string>;
      const adminEmail = uniqueEmail('root');
      const state: { codes: string[]; userEmail?: string; userRefresh?: string } = { codes: [] };

      before(async () => {
        database = await createTestDatabase(kind, { persistent: true });
        env = { ...database.env, LOG_LEVEL: 'silent' };
      });
      after(() => database.drop());

      it('migrate applies the migrations (through the real binary, bin/keyhold.js)', async () => {
        const first = await runCliJson(['migrate'], { env, viaBin: true });
        assert.ok(first.applied.includes('0001_initial'), JSON.stringify(first));
      });

      it('create-admin reads the password from stdin and never prints it', async () => {
        const result = await runCli(['create-admin', '--email', adminEmail.toUpperCase(), '--password-stdin', '--name', 'Root'], {
          env,
          input: `${ADMIN_PASSWORD}\n`,
        });
        assert.equal(result.code, 0, result.stderr);
        assert.match(result.stdout, new RegExp(`^Created admin ${adminEmail}`));
        assert.ok(!result.stdout.includes(ADMIN_PASSWORD) && !result.stderr.includes(ADMIN_PASSWORD));
      });

      it('invite-codes create, and settings set, through the shared services', async () => {
        const codes = await runCliJson(['invite-codes', 'create', '--count', '2', '--plan', 'team', '--trial-days', '30'], { env });
        assert.equal(codes.length, 2);
        for (const code of codes) {
          assert.match(code.code, /^[A-Z0-9]{12}$/);
          assert.equal(code.assigned_plan, 'team');
          assert.equal(code.trial_duration_days, 30);
        }
        state.codes = codes.map((c: { code: string }) => c.code);
        const setting = await runCliJson(['settings', 'set', 'email_verification_enabled', 'false'], { env });
        assert.deepEqual(setting, { key: 'email_verification_enabled', value: false });
      });

      it('the app sees what the command line made', async () => {
        const t = await startTestApp(kind, { database });
        try {
          const admin = await signIn(t.api, adminEmail, ADMIN_PASSWORD);
          const me = await t.api.get('/auth/me', admin.accessToken);
          assert.equal(me.body.role, 'admin');
          assert.equal(me.body.name, 'Root');
          assert.deepEqual((await t.api.get('/admin/settings', admin.accessToken)).body, { email_verification_enabled: false });
          const audit = await t.api.get('/admin/audit-logs?action=admin.invite_codes_created', admin.accessToken);
          assert.equal(audit.body[0]?.user_agent, 'keyhold-cli');
          assert.equal(audit.body[0]?.user_id, null);

          const user = await registerAndSignIn(t.api, { invite_code: state.codes[0] });
          const account = await t.api.get('/accounts/me', user.accessToken);
          assert.equal(account.body.subscription.plan, 'team');
          state.userEmail = user.email;
          state.userRefresh = user.refreshToken;
        } finally {
          await t.close();
        }
      });

      it('invite-codes list shows who used a code; users list searches', async () => {
        const listed = await runCliJson(['invite-codes', 'list'], { env });
        const used = listed.find((c: { code: string }) => c.code === state.codes[0]);
        assert.equal(used.used_by_email, state.userEmail);
        const table = await runCli(['users', 'list', '--search', state.userEmail!.slice(0, 12)], { env });
        assert.equal(table.code, 0, table.stderr);
        const lines = table.stdout.trim().split('\n');
        assert.match(lines[0]!, /^id\s+email\s+name\s+role/);
        assert.equal(lines.length, 3, table.stdout);
        assert.ok(lines[2]!.includes(state.userEmail!));
      });

      it('users deactivate ends the user’s sessions', async () => {
        const user = await runCliJson(['users', 'deactivate', state.userEmail!.toUpperCase()], { env });
        assert.equal(user.is_active, false);
        const t = await startTestApp(kind, { database });
        try {
          const refreshed = await t.api.post('/auth/refresh', { refresh_token: state.userRefresh });
          assert.ok([401, 403].includes(refreshed.status));
          assert.equal(refreshed.body.access_token, undefined);
          const login = await t.api.post('/auth/login/json', { email: state.userEmail, password: 'correct horse battery staple' });
          assert.equal(login.status, 403);
        } finally {
          await t.close();
        }
      });

      it('bad input: one line on stderr, exit code 1, nothing written', async () => {
        const failures: Array<[string[], RegExp, Record<string, string>?, string?]> = [
          [['settings', 'set', 'email_verification_enabled', 'maybe'], /^keyhold: value: Input should be a boolean/],
          [['users', 'deactivate', 'nobody@example.com'], /^keyhold: User not found$/],
        ];
        // These fail before a database is opened: the same for every kind, so checked once.
        if (kind === DATABASE_KINDS[0]) {
          failures.push(
            [['create-admin', '--email', 'b@example.com', '--password-stdin'], /^keyhold: password: Password must be 8 to 128 characters$/, undefined, 'short\n'],
            [
              ['create-admin', '--email', 'c@example.com', '--password-stdin', '--name', 'Root\u202Eevil'],
              /^keyhold: name: String must not contain control characters, line breaks or bidirectional overrides$/,
              undefined,
              `${ADMIN_PASSWORD}\n`,
            ],
            [['invite-codes', 'create', '--count', 'ten'], /^error: option '--count <n>' argument 'ten' is invalid/],
            [['users', 'list'], /^keyhold: Invalid configuration: DATABASE_URL must be a postgres/, { DATABASE_URL: 'mysql://localhost/x' }],
          );
        }
        for (const [args, message, extraEnv, input] of failures) {
          const result = await runCli(args, { env: { ...env, ...extraEnv }, input });
          assert.equal(result.code, 1, `${args.join(' ')}: ${result.stderr}`);
          assert.match(result.stderr.trim(), message, args.join(' '));
          assert.equal(result.stderr.trim().split('\n').length, 1, `one line: ${result.stderr}`);
          assert.equal(result.stdout, '');
        }
        const setting = await runCliJson(['settings', 'get', 'email_verification_enabled'], { env });
        assert.deepEqual(setting, { key: 'email_verification_enabled', value: false }, 'the bad value was not written');
      });

      it('purge --dry-run counts what purge then removes', async () => {
        // Two sessions of 40 days ago (the app's clock; the command line runs on the real one):
        // one left to expire, one signed out then.
        const t = await startTestApp(kind, { database, clock: new FakeClock(new Date(Date.now() - 40 * 86_400_000)) });
        try {
          const user = await registerAndSignIn(t.api);
          const second = await signIn(t.api, user.email, user.password);
          assert.equal((await t.api.post('/auth/logout', { refresh_token: second.refreshToken })).status, 200);
        } finally {
          await t.close();
        }

        const dryRun = await runCliJson(['purge', '--dry-run'], { env });
        assert.equal(dryRun.dry_run, true);
        assert.ok(dryRun.removed.refresh_tokens >= 2 && dryRun.removed.sessions >= 2, JSON.stringify(dryRun));
        const table = await runCli(['purge', '--dry-run'], { env });
        assert.equal(table.code, 0, table.stderr);
        assert.match(table.stdout, /^table\s+would_remove\s+rule\n/);
        assert.match(table.stdout, new RegExp(`^refresh_tokens\\s+${dryRun.removed.refresh_tokens}\\s+every token of a session whose newest token has expired`, 'm'));
        assert.match(table.stdout, /^audit_logs\s+0\s+older than 365 days$/m);
        assert.match(table.stdout, /^Dry run: \d+ rows would be removed; nothing was\.$/m);

        const purged = await runCliJson(['purge'], { env });
        assert.equal(purged.dry_run, false);
        assert.equal(purged.complete, true);
        for (const [name, n] of Object.entries(dryRun.removed)) {
          if (n !== null) assert.equal(purged.removed[name], n, `${name}: purge removed what the dry run counted`);
        }
        const again = await runCli(['purge'], { env });
        assert.equal(again.code, 0, again.stderr);
        assert.match(again.stdout, /^refresh_tokens\s+0\s/m);
        assert.match(again.stdout, /^Removed 0 rows in \d+ batches/m);
      });
    });
  }
});
