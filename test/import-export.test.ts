// `keyhold import` and `keyhold export`, run as the real binary against the embedded database
// (a temp DATA_DIR) and PostgreSQL. The fixture is computed here from known passwords in every
// accepted hash format, in each format's exact encoding; every imported user then signs in
// through the real HTTP login and is re-hashed to argon2id.
import assert from 'node:assert/strict';
import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import argon2 from 'argon2';
import bcrypt from 'bcryptjs';
import { sql } from 'kysely';
import type { Db } from '../src/db/database.js';
import { parseArgon2Params } from '../src/lib/passwords.js';
import { startTestApp } from './helpers/app.js';
import { runCli, type CliResult } from './helpers/cli.js';
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from './helpers/database.js';

const ab64 = (bytes: Buffer): string => bytes.toString('base64').replace(/=+$/, '').replace(/\+/g, '.');

interface FixtureUser {
  line: Record<string, unknown>;
  password?: string;
}

/** One user per format, each with its own password. */
async function goodUsers(): Promise<FixtureUser[]> {
  const users: FixtureUser[] = [];
  const add = (email: string, password: string, hash: string, extra: Record<string, unknown> = {}) =>
    users.push({ password, line: { email, name: `User ${email.split('@')[0]}`, password_hash: hash, ...extra } });
  const bcryptHash = await bcrypt.hash('bcrypt pass 2b', 4);
  add('bcrypt-2b@import.test', 'bcrypt pass 2b', bcryptHash, { account: { key: 'acme', name: 'Acme Inc', plan: 'team', status: 'active', period_end: '2027-01-01T00:00:00.000Z' }, account_role: 'owner', email_verified: true });
  // $2a$ and $2y$ are the same algorithm under other prefixes (crypt_blowfish, PHP).
  add('bcrypt-2a@import.test', 'bcrypt pass 2a', (await bcrypt.hash('bcrypt pass 2a', 5)).replace(/^\$2b\$/, '$2a$'), { account: { key: 'acme', name: 'Acme Inc' }, account_role: 'admin' });
  add('bcrypt-2y@import.test', 'bcrypt pass 2y', (await bcrypt.hash('bcrypt pass 2y', 4)).replace(/^\$2b\$/, '$2y$'), { account: { key: 'acme', name: 'Acme Inc' } });
  add('argon2id@import.test', 'argon2id pass', await argon2.hash('argon2id pass', { type: argon2.argon2id, memoryCost: 8192, timeCost: 1, parallelism: 1 }), { role: 'admin', created_at: '2020-05-06T07:08:09.000Z' });
  add('argon2i@import.test', 'argon2i pass', await argon2.hash('argon2i pass', { type: argon2.argon2i, memoryCost: 8192, timeCost: 2, parallelism: 1 }), { oauth: [{ provider: 'google', subject: 'g-1', email: 'argon2i@import.test' }] });
  const salt = randomBytes(16);
  const passlib = `$pbkdf2-sha256$29000$${ab64(salt)}$${ab64(pbkdf2Sync('passlib pass', salt, 29000, 32, 'sha256'))}`;
  add('passlib@import.test', 'passlib pass', passlib, { account: { key: 'solo', name: 'Solo Ltd' } });
  // passlib's own documented example, so the encoding is checked against passlib, not only against this test.
  add('passlib-doc@import.test', 'toomanysecrets', '$pbkdf2-sha256$29000$N2YMIWQsBWBMae09x1jrPQ$1t8iyB2A.WF/Z5JZv.lfCIhXXN33N23OSgQYThBYRfk');
  const djangoSalt = 'Xq3oPf1l2Gk9Zr8sQw7eRt';
  const django = `pbkdf2_sha256$600000$${djangoSalt}$${pbkdf2Sync('django pass', djangoSalt, 600000, 32, 'sha256').toString('base64')}`;
  add('django@import.test', 'django pass', django);
  users.push({ line: { email: 'oauth-only@import.test', name: 'No Password', oauth: [{ provider: 'github', subject: '42' }], email_verified: '2021-02-03T04:05:06.000Z' } });
  return users;
}

/** Bad lines, by the reason they must be refused for (matched against the report). */
const BAD_LINES: Array<[Record<string, unknown> | string, RegExp]> = [
  [{ email: 'not-an-email', name: 'Bad Email' }, /email: not a valid email address/],
  [{ email: 'md5@import.test', name: 'Unknown Hash', password_hash: '5f4dcc3b5aa765d61d8327deb882cf99' }, /password_hash: unknown password hash format/],
  [{ email: 'BCRYPT-2B@import.test', name: 'Duplicate' }, /email bcrypt-2b@import\.test is also on line 1/],
  [{ email: 'role@import.test', name: 'Bad Role', account: { key: 'acme', name: 'Acme Inc' }, account_role: 'superuser' }, /account_role: not one of the allowed values/],
  [{ email: 'costly-bcrypt@import.test', name: 'Costly', password_hash: `$2b$15$${'a'.repeat(53)}` }, /bcrypt cost 15 is over the limit/],
  [{ email: 'costly-pbkdf2@import.test', name: 'Costly', password_hash: `pbkdf2_sha256$50000000$salt$${Buffer.alloc(32).toString('base64')}` }, /pbkdf2-sha256 iterations 50000000 are over the limit/],
  [{ email: 'costly-argon2@import.test', name: 'Costly', password_hash: '$argon2id$v=19$m=4194304,t=3,p=1$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g' }, /argon2 cost .* over the limit/],
  [{ email: 'second-owner@import.test', name: 'Second Owner', account: { key: 'acme', name: 'Acme Inc' }, account_role: 'owner' }, /account "acme" already has an owner/],
  [{ email: 'plain@import.test', name: 'Plain', password: 'secret' }, /unknown field "password"/],
  ['{"email": "broken@import.test", ', /not valid JSON/],
];

const toJsonl = (lines: Array<Record<string, unknown> | string>) => `${lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n')}\n`;

/** What must survive an export and an import: users, their accounts and memberships, identities. */
async function snapshot(db: Db) {
  const users = await db
    .selectFrom('users')
    .innerJoin('accounts', 'accounts.id', 'users.account_id')
    .leftJoin('subscriptions', 'subscriptions.account_id', 'accounts.id')
    .leftJoin('users as owners', 'owners.id', 'accounts.owner_id')
    .select([
      'users.email', 'users.name', 'users.password_hash', 'users.role', 'users.account_role', 'users.is_active',
      'users.must_change_password', 'users.email_verified_at', 'users.created_at',
      'accounts.name as account_name', 'owners.email as owner_email', 'subscriptions.plan', 'subscriptions.status', 'subscriptions.current_period_end',
      sql<string>`(SELECT string_agg(provider || ':' || subject || ':' || coalesce(email, ''), ',' ORDER BY provider, subject) FROM oauth_identities o WHERE o.user_id = users.id)`.as('oauth'),
      sql<string>`(SELECT string_agg(m.email, ',' ORDER BY m.email) FROM users m WHERE m.account_id = users.account_id)`.as('members'),
    ])
    .orderBy('users.email')
    .execute();
  return users;
}

describe('keyhold import and export', { concurrency: true }, () => {
  let dir: string;
  let fixture: FixtureUser[];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'keyhold-import-'));
    fixture = await goodUsers();
  });
  after(() => rm(dir, { recursive: true, force: true }));

  for (const kind of DATABASE_KINDS) {
    describe(kind, { concurrency: false }, () => {
      let database: TestDatabase;
      let env: Record<string, string>;
      let file: string;
      let expectedErrors: Array<[number, RegExp]>;
      const cli = (args: string[]): Promise<CliResult> => runCli(args, { env });
      before(async () => {
        database = await createTestDatabase(kind, { persistent: true });
        env = { ...database.env, LOG_LEVEL: 'silent' };
        file = join(dir, `${kind}-import.jsonl`);
        const lines = [...fixture.map((u) => u.line), ...BAD_LINES.map(([line]) => line)];
        expectedErrors = BAD_LINES.map(([, reason], i) => [fixture.length + i + 1, reason]);
        await writeFile(file, toJsonl(lines));
      });
      after(() => database.drop());

      it('--dry-run reports every bad line by number and writes nothing', async () => {
        const result = await cli(['import', file, '--dry-run', '--json']);
        assert.equal(result.code, 1, result.stderr);
        const summary = JSON.parse(result.stdout);
        assert.equal(summary.dry_run, true);
        assert.equal(summary.imported, fixture.length);
        assert.equal(summary.refused, BAD_LINES.length);
        const listed = await cli(['users', 'list', '--json']);
        assert.deepEqual(JSON.parse(listed.stdout), [], 'a dry run leaves no user behind');
      });

      it('imports every format, refuses the bad lines by number, and exits 1', async () => {
        const result = await cli(['import', file, '--json', '--batch-size', '3']);
        assert.equal(result.code, 1, result.stderr);
        const summary = JSON.parse(result.stdout);
        assert.equal(summary.imported, fixture.length, JSON.stringify(summary.errors));
        assert.equal(summary.skipped_existing, 0);
        assert.equal(summary.accounts_created, 2 + 0, 'acme and solo: the rest get personal accounts through createUsers');
        const errors = [...summary.errors].sort((a: { line: number }, b: { line: number }) => a.line - b.line);
        assert.equal(errors.length, expectedErrors.length, JSON.stringify(errors));
        for (const [i, [line, reason]] of expectedErrors.entries()) {
          assert.equal(errors[i].line, line);
          assert.match(errors[i].reason, reason);
          assert.match(result.stderr, new RegExp(`^line ${line}: `, 'm'));
        }
        // solo's only member had no role: the file named no owner, so its first member became one.
        assert.equal(summary.owners_assigned.count, 1);
        assert.equal(summary.owners_assigned.first[0].email, 'passlib@import.test');
      });

      it('every imported user signs in over HTTP and is re-hashed to argon2id; accounts and roles as the file says', async () => {
        const t = await startTestApp(kind, { database, passwords: 'argon2' });
        try {
          for (const user of fixture.filter((u) => u.password)) {
            const email = user.line.email as string;
            const wrong = await t.api.post('/auth/login/json', { email, password: `${user.password}x` });
            assert.equal(wrong.status, 401, `${email}: a wrong password fails`);
            const login = await t.api.post('/auth/login/json', { email, password: user.password });
            assert.equal(login.status, 200, `${email}: ${JSON.stringify(login.body)}`);
            const row = await t.app.ctx.db.selectFrom('users').select('password_hash').where('email', '=', email).executeTakeFirstOrThrow();
            assert.ok(row.password_hash!.startsWith('$argon2id$'), `${email} re-hashed`);
            assert.deepEqual(parseArgon2Params(row.password_hash!), { memoryKib: 19_456, iterations: 2, parallelism: 1 });
            assert.equal((await t.api.post('/auth/login/json', { email, password: user.password })).status, 200, `${email} again, on argon2id`);
          }
          const rows = new Map((await snapshot(t.app.ctx.db)).map((row) => [row.email, row]));
          const owner = rows.get('bcrypt-2b@import.test')!;
          assert.equal(owner.account_name, 'Acme Inc');
          assert.equal(owner.account_role, 'owner');
          assert.equal(owner.owner_email, 'bcrypt-2b@import.test');
          assert.deepEqual([owner.plan, owner.status, owner.current_period_end?.toISOString()], ['team', 'active', '2027-01-01T00:00:00.000Z']);
          assert.ok(owner.email_verified_at);
          assert.equal(owner.members, 'bcrypt-2a@import.test,bcrypt-2b@import.test,bcrypt-2y@import.test');
          assert.equal(rows.get('bcrypt-2a@import.test')!.account_role, 'admin');
          assert.equal(rows.get('bcrypt-2y@import.test')!.account_role, 'member');
          assert.equal(rows.get('passlib@import.test')!.owner_email, 'passlib@import.test');
          const admin = rows.get('argon2id@import.test')!;
          assert.equal(admin.role, 'admin');
          assert.equal(admin.created_at.toISOString(), '2020-05-06T07:08:09.000Z');
          assert.equal(admin.account_name, "User argon2id's Account");
          assert.equal(admin.account_role, 'owner');
          assert.equal(rows.get('argon2i@import.test')!.oauth, 'google:g-1:argon2i@import.test');
          const oauthOnly = rows.get('oauth-only@import.test')!;
          assert.equal(oauthOnly.password_hash, null);
          assert.equal(oauthOnly.email_verified_at?.toISOString(), '2021-02-03T04:05:06.000Z');
          const passwordless = await t.api.post('/auth/login/json', { email: 'oauth-only@import.test', password: 'anything' });
          assert.deepEqual(passwordless.body.detail, { error: 'use_oauth_provider', providers: ['github'] });
          const audit = await t.app.ctx.db.selectFrom('audit_logs').select((eb) => eb.fn.countAll<string>().as('n')).where('action', '=', 'admin.user_imported').executeTakeFirstOrThrow();
          assert.equal(Number(audit.n), fixture.length);
        } finally {
          await t.close();
        }
      });

      it('a second run skips existing emails and exits 0 when nothing is refused', async () => {
        const good = join(dir, `${kind}-good.jsonl`);
        await writeFile(good, toJsonl([...fixture.map((u) => u.line), { email: 'late@import.test', name: 'Late', account: { key: 'acme', name: 'Acme Inc' } }]));
        const result = await cli(['import', good, '--json']);
        assert.equal(result.code, 0, result.stderr);
        const summary = JSON.parse(result.stdout);
        assert.deepEqual([summary.imported, summary.skipped_existing, summary.refused, summary.accounts_created], [1, fixture.length, 0, 0]);
        assert.equal(summary.owners_assigned.count, 0, 'acme, made by the first run, keeps its owner');
      });

      it('export, then import into an empty Keyhold, gives the same users, accounts and memberships', async () => {
        const exported = join(dir, `${kind}-export.jsonl`);
        const out = await cli(['export', exported, '--json']);
        assert.equal(out.code, 0, out.stderr);
        assert.equal(JSON.parse(out.stdout).users, fixture.length + 1);
        assert.ok(!(await readFile(exported, 'utf8')).includes('"id"'), 'no internal ids');
        const again = await cli(['export', exported]);
        assert.equal(again.code, 1, 'an existing file is not overwritten');
        assert.equal(again.stderr, `keyhold: ${exported} already exists: an export never overwrites a file; give a new file name\n`);

        const fresh = await createTestDatabase(kind, { persistent: true });
        try {
          const result = await runCli(['import', exported, '--json'], { env: { ...fresh.env, LOG_LEVEL: 'silent' } });
          assert.equal(result.code, 0, result.stderr + result.stdout);
          assert.equal(JSON.parse(result.stdout).owners_assigned.count, 0, 'every account kept its owner');
          const source = await startTestApp(kind, { database, passwords: 'argon2' });
          const before = await snapshot(source.app.ctx.db).finally(() => source.close());
          const target = await startTestApp(kind, { database: fresh, passwords: 'argon2' });
          try {
            assert.deepEqual(await snapshot(target.app.ctx.db), before);
            for (const user of fixture.filter((u) => u.password)) {
              const login = await target.api.post('/auth/login/json', { email: user.line.email, password: user.password });
              assert.equal(login.status, 200, `${user.line.email as string} signs in after the round trip`);
            }
          } finally {
            await target.close();
          }
        } finally {
          await fresh.drop();
        }
      });
    });
  }
});
