// `keyhold`: the operator's command line. It opens the same database as the server
// (DATABASE_URL, else the embedded one in DATA_DIR), applies pending migrations, and calls
// the same service functions as the admin API, so both follow one set of rules and both
// write audit rows (user agent `keyhold-cli`, no acting user).
// Tables for people, `--json` for scripts; any failure is one line on stderr and exit code 1.
import { createInterface } from 'node:readline/promises';
import { Writable } from 'node:stream';
import { Command, InvalidArgumentError } from 'commander';
import { ConfigError, loadConfig, type Config } from './config.js';
import type { AppContext, RequestMeta } from './context.js';
import { isDatabaseUnavailable } from './db/errors.js';
import { migrateToLatest } from './db/migrate.js';
import { systemClock } from './lib/clock.js';
import { AppError } from './lib/errors.js';
import { createPasswordHasher } from './lib/passwords.js';
import { toInviteCodeResponse } from './modules/admin/admin.schemas.js';
import { findUserByReference, listUsers, updateUserAsAdmin } from './modules/admin/admin-users.service.js';
import { checkAdminInput, ensureAdmin } from './modules/admin/create-admin.js';
import { createInviteCodes, listInviteCodes } from './modules/invites/invite-codes.service.js';
import { purgeExpiredRows } from './modules/retention/retention.service.js';
import { retentionRules } from './retention-wiring.js';
import { changeSetting, getAllSettings, readSetting, SETTINGS, type SettingKey } from './modules/settings/settings.service.js';
import { toUserResponse } from './modules/users/user.schemas.js';
import { createSecretBox, type SecretBox } from './lib/secret-box.js';
import { resolveSecretsKey } from './modules/keys/secrets-key.js';
import { registerWebhookCommands } from './cli/webhooks.js';
import { registerClientCommands } from './cli/clients.js';
import { registerImportExportCommands } from './cli/import-export.js';
import { registerKeysCommands } from './cli/keys.js';
import { openCliDatabase } from './cli/cli-database.js';

// No job queue runs in a CLI command: what a command queues waits for a server's next poll.
type CliContext = Pick<AppContext, 'config' | 'db' | 'clock' | 'passwords' | 'secrets'> & { jobs: undefined };

const CLI_META: RequestMeta = { ip: null, userAgent: 'keyhold-cli' };

/** Opens the database for one command and always closes it, so the process can exit. */
async function withDatabase<T>(fn: (ctx: CliContext) => Promise<T>, options: { migrate: boolean } = { migrate: true }): Promise<T> {
  const config: Readonly<Config> = loadConfig();
  const database = await openCliDatabase(config);
  try {
    if (options.migrate) await migrateToLatest(database.db);
    // The server's secret box key (same environment, same DATA_DIR), for signing keys and webhook
    // secrets. Without one (DATABASE_URL and no SECRETS_ENCRYPTION_KEY) the warning is printed
    // when a command actually stores a secret, not by every command.
    let unencrypted: string | undefined;
    const box = createSecretBox(await resolveSecretsKey(config, (message) => (unencrypted = message)));
    const secrets: SecretBox = {
      ...box,
      seal(plaintext, purpose) {
        if (unencrypted) process.stderr.write(`keyhold: warning: ${unencrypted}\n`);
        unencrypted = undefined;
        return box.seal(plaintext, purpose);
      },
    };
    return await fn({ config, db: database.db, clock: systemClock, passwords: createPasswordHasher(config.argon2), secrets, jobs: undefined });
  } finally {
    await database.close();
  }
}

// ---- output ----------------------------------------------------------------------------

let jsonOutput = false;

function print(data: unknown, human: () => string): void {
  process.stdout.write(jsonOutput ? `${JSON.stringify(data, null, 2)}\n` : `${human()}\n`);
}

const cell = (value: unknown): string => {
  if (value === null || value === undefined) return '-';
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  return typeof value === 'string' ? value : JSON.stringify(value);
};

function table(rows: Array<Record<string, unknown>>, columns: string[]): string {
  if (rows.length === 0) return '(none)';
  const cells = rows.map((row) => columns.map((column) => cell(row[column])));
  const widths = columns.map((column, i) => Math.max(column.length, ...cells.map((line) => line[i]!.length)));
  const line = (values: string[]) => values.map((value, i) => value.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(columns), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

/** One line that says what went wrong, never a stack. */
function describeError(err: unknown): string {
  if (err instanceof ConfigError) return err.message;
  if (err instanceof AppError) {
    if (Array.isArray(err.detail)) {
      return (err.detail as Array<{ loc: Array<string | number>; msg: string }>)
        .map((issue) => `${issue.loc.slice(1).join('.') || issue.loc.join('.')}: ${issue.msg}`)
        .join('; ');
    }
    return typeof err.detail === 'string' ? err.detail : JSON.stringify(err.detail);
  }
  if (isDatabaseUnavailable(err)) {
    const { message, code } = err as Error & { code?: string };
    return `cannot reach the database (${message || code || 'connection failed'})`;
  }
  return err instanceof Error ? err.message : String(err);
}

// ---- input -----------------------------------------------------------------------------

function wholeNumber(value: string): number {
  if (!/^[0-9]{1,15}$/.test(value)) throw new InvalidArgumentError('must be a whole number');
  return Number(value);
}

/** A setting value as typed on a command line: JSON when it parses (true, 3, "x"), else the text. */
function settingValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The password from stdin: piped (first line), or typed at a terminal without echo. */
async function readPasswordFromStdin(): Promise<string> {
  if (process.stdin.isTTY) {
    const muted = new Writable({ write: (_chunk, _encoding, done) => done() });
    const rl = createInterface({ input: process.stdin, output: muted, terminal: true });
    process.stderr.write('Password: ');
    try {
      return await rl.question('');
    } finally {
      rl.close();
      process.stderr.write('\n');
    }
  }
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
}

// ---- commands --------------------------------------------------------------------------

const program = new Command('keyhold')
  .description('Keyhold operator commands. Uses DATABASE_URL, else the embedded database in DATA_DIR.')
  .option('--json', 'print JSON (for scripts) instead of tables')
  .hook('preAction', (command) => {
    jsonOutput = Boolean(command.opts().json);
  });

program
  .command('migrate')
  .description('apply pending database migrations')
  .action(() =>
    withDatabase(async (ctx) => {
      const { applied } = await migrateToLatest(ctx.db);
      print({ applied }, () => (applied.length ? `Applied: ${applied.join(', ')}` : 'Database is up to date'));
    }, { migrate: false }),
  );

program
  .command('create-admin')
  .description('create a platform admin, or promote the existing user with that email (a password is never reset)')
  .requiredOption('--email <email>', 'email address')
  .option('--password <password>', 'password (visible to other local users: prefer --password-stdin)')
  .option('--password-stdin', 'read the password from stdin')
  .option('--name <name>', 'display name', 'Administrator')
  .action(async (options: { email: string; password?: string; passwordStdin?: boolean; name: string }) => {
    if (options.password !== undefined && options.passwordStdin) throw new Error('give either --password or --password-stdin, not both');
    if (options.password === undefined && !options.passwordStdin) throw new Error('a password is required: --password-stdin (or --password)');
    const input = { email: options.email, password: options.passwordStdin ? await readPasswordFromStdin() : options.password!, name: options.name };
    checkAdminInput(input);
    await withDatabase(async (ctx) => {
      const { user, created, promoted } = await ensureAdmin(ctx, input, CLI_META);
      print({ id: user.id, email: user.email, created, promoted }, () =>
        created
          ? `Created admin ${user.email} (${user.id})`
          : `${user.email} ${promoted ? 'is now an admin' : 'is already an admin'}; password unchanged`,
      );
    });
  });

const inviteCodes = program.command('invite-codes').description('platform invite codes');
inviteCodes
  .command('create')
  .description('create invite codes')
  .option('--count <n>', 'how many (1 to 100)', wholeNumber, 1)
  .option('--plan <plan>', 'plan given to the account of whoever uses a code')
  .option('--trial-days <days>', 'make the plan a trial of this many days (needs --plan)', wholeNumber)
  .option('--expires-at <date-time>', 'ISO-8601 time after which the codes no longer work')
  .action((options: { count: number; plan?: string; trialDays?: number; expiresAt?: string }) =>
    withDatabase(async (ctx) => {
      const codes = await createInviteCodes(ctx, {
        actorId: null,
        input: { count: options.count, assigned_plan: options.plan, trial_duration_days: options.trialDays, expires_at: options.expiresAt },
        meta: CLI_META,
      });
      const rows = codes.map(toInviteCodeResponse);
      print(rows, () => table(rows, ['code', 'assigned_plan', 'trial_duration_days', 'expires_at']));
    }),
  );
inviteCodes
  .command('list')
  .description('list invite codes, newest first, with who used each')
  .option('--limit <n>', 'at most this many (1 to 500)', wholeNumber)
  .option('--offset <n>', 'skip this many', wholeNumber)
  .action((options: { limit?: number; offset?: number }) =>
    withDatabase(async (ctx) => {
      const rows = (await listInviteCodes(ctx, options)).map(toInviteCodeResponse);
      print(rows, () => table(rows, ['code', 'assigned_plan', 'trial_duration_days', 'expires_at', 'used_at', 'used_by_email']));
    }),
  );

const settings = program.command('settings').description('platform settings');
settings
  .command('get')
  .argument('[key]', 'one setting; all of them when omitted')
  .description('show settings')
  .action((key: string | undefined) =>
    withDatabase(async (ctx) => {
      if (key !== undefined) {
        const setting = await readSetting(ctx, key);
        print(setting, () => JSON.stringify(setting.value));
        return;
      }
      const values = await getAllSettings(ctx.db);
      const rows = (Object.keys(values) as SettingKey[]).map((name) => ({ key: name, value: JSON.stringify(values[name]), description: SETTINGS[name].description }));
      print(values, () => table(rows, ['key', 'value', 'description']));
    }),
  );
settings
  .command('set')
  .argument('<key>', 'setting name')
  .argument('<value>', 'new value, as JSON where it parses (true, false, 10, "text")')
  .description('change a setting')
  .action((key: string, value: string) =>
    withDatabase(async (ctx) => {
      const setting = await changeSetting(ctx, { actorId: null, key, value: settingValue(value), meta: CLI_META });
      print(setting, () => `${setting.key} = ${JSON.stringify(setting.value)}`);
    }),
  );

const users = program.command('users').description('users of the platform');
users
  .command('list')
  .description('list users, newest first')
  .option('--search <text>', 'match anywhere in the email or name')
  .option('--limit <n>', 'at most this many (1 to 200)', wholeNumber)
  .option('--offset <n>', 'skip this many', wholeNumber)
  .action((options: { search?: string; limit?: number; offset?: number }) =>
    withDatabase(async (ctx) => {
      const rows = (await listUsers(ctx, { q: options.search, limit: options.limit, offset: options.offset })).map(toUserResponse);
      print(rows, () => table(rows, ['id', 'email', 'name', 'role', 'account_role', 'is_active', 'created_at']));
    }),
  );
for (const [name, isActive] of [['deactivate', false], ['activate', true]] as const) {
  users
    .command(name)
    .argument('<email-or-id>', 'the user')
    .description(isActive ? 'let a deactivated user sign in again' : 'block a user and end all their sessions at once')
    .action((reference: string) =>
      withDatabase(async (ctx) => {
        const user = await findUserByReference(ctx, reference);
        const updated = await updateUserAsAdmin(ctx, { actorId: null, userId: user.id, changes: { is_active: isActive }, meta: CLI_META });
        print(toUserResponse(updated), () =>
          isActive ? `Activated ${updated.email}` : `Deactivated ${updated.email}; every session and refresh token revoked`,
        );
      }),
    );
}

program
  .command('purge')
  .description('remove expired rows now, as the hourly retention run does (the embedded database: stop the server first)')
  .option('--dry-run', 'count what would be removed; remove nothing')
  .action((options: { dryRun?: boolean }) =>
    withDatabase(async (ctx) => {
      const report = await purgeExpiredRows({ ...ctx, retention: retentionRules(ctx.config) }, { dryRun: options.dryRun === true });
      const column = report.dryRun ? 'would_remove' : 'removed';
      const rows = Object.entries(report.removed).map(([name, n]) => ({ table: name, [column]: n, rule: report.rules[name] }));
      const total = Object.values(report.removed).reduce<number>((sum, n) => sum + (n ?? 0), 0);
      print({ dry_run: report.dryRun, removed: report.removed, complete: report.complete }, () =>
        [
          table(rows, ['table', column, 'rule']),
          report.dryRun
            ? `Dry run: ${total} rows would be removed; nothing was.`
            : `Removed ${total} rows in ${report.batches} batches (${(report.elapsedMs / 1000).toFixed(1)} s; longest batch ${Math.round(report.longestBatchMs)} ms).`,
        ].join('\n'),
      );
    }),
  );

registerWebhookCommands(program, { withDatabase, print, table, meta: CLI_META });
registerClientCommands(program, { withDatabase, print, table, meta: CLI_META });
registerImportExportCommands(program, { withDatabase, meta: CLI_META });
registerKeysCommands(program, { withDatabase, print, table, meta: CLI_META });

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`keyhold: ${describeError(err)}\n`);
  process.exitCode = 1;
});
