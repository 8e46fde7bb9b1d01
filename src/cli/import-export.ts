// `keyhold import FILE.jsonl [--dry-run]` and `keyhold export FILE.jsonl`. They open the
// database like every other command (cli.ts's withDatabase: DATABASE_URL, else the embedded
// one, which is one process at a time: stop the server first).
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { finished } from 'node:stream/promises';
import type { Command } from 'commander';
import type { AppContext, RequestMeta } from '../context.js';
import { exportUsers } from '../modules/import-export/export.service.js';
import { DEFAULT_BATCH_SIZE, importUsers, type ImportProgress, type ImportSummary } from '../modules/import-export/import.service.js';

type CliContext = Pick<AppContext, 'config' | 'db' | 'clock'>;

export interface ImportExportCliDeps {
  withDatabase: <T>(fn: (ctx: CliContext) => Promise<T>) => Promise<T>;
  meta: RequestMeta;
}

export function registerImportExportCommands(program: Command, deps: ImportExportCliDeps): void {
  program
    .command('import')
    .argument('<file>', 'JSON lines, one user a line (see the README: "Moving users in and out")')
    .description('import users with their password hashes, accounts and identities (the embedded database: stop the server first)')
    .option('--dry-run', 'check every line and report; write nothing')
    .option('--batch-size <n>', 'lines per transaction', (value) => Number(value), DEFAULT_BATCH_SIZE)
    .action(async (file: string, options: { dryRun?: boolean; batchSize: number }, command: Command) => {
      const json = Boolean(command.optsWithGlobals().json);
      const size = statSync(file).size;
      const input = createReadStream(file);
      const progress = progressReporter(() => input.bytesRead, size);
      const summary = await deps.withDatabase((ctx) =>
        importUsers(ctx, {
          input,
          options: {
            dryRun: options.dryRun === true,
            batchSize: Number.isInteger(options.batchSize) && options.batchSize > 0 ? options.batchSize : DEFAULT_BATCH_SIZE,
            onLineError: (line, reason) => progress.message(`line ${line}: ${reason}`),
            onProgress: (p) => progress.update(p),
          },
          meta: deps.meta,
        }),
      );
      progress.done();
      process.stdout.write(json ? `${JSON.stringify(toJson(summary), null, 2)}\n` : `${describeSummary(summary)}\n`);
      // 0 only when every line was imported or skipped as existing.
      if (summary.refused > 0) process.exitCode = 1;
    });

  program
    .command('export')
    .argument('<file>', 'where to write the JSON lines (created with mode 600; an existing file is not overwritten)')
    .description('export every user, with password hashes, in the import format (the embedded database: stop the server first)')
    .action(async (file: string, _options: unknown, command: Command) => {
      const json = Boolean(command.optsWithGlobals().json);
      const { users } = await deps.withDatabase(async (ctx) => {
        // The file holds every password hash: readable by its owner only, and never written over.
        const output = createWriteStream(file, { flags: 'wx', mode: 0o600 });
        await new Promise<void>((resolve, reject) => output.once('open', () => resolve()).once('error', reject)).catch((err: NodeJS.ErrnoException) => {
          throw err.code === 'EEXIST' ? new Error(`${file} already exists: an export never overwrites a file; give a new file name`) : err;
        });
        try {
          const result = await exportUsers(ctx, output);
          output.end();
          await finished(output);
          return result;
        } catch (err) {
          output.destroy();
          throw err;
        }
      });
      process.stdout.write(json ? `${JSON.stringify({ users, file })}\n` : `Exported ${users} users to ${file}\n`);
    });
}

function toJson(summary: ImportSummary) {
  return {
    dry_run: summary.dryRun,
    lines: summary.lines,
    imported: summary.imported,
    skipped_existing: summary.skippedExisting,
    refused: summary.refused,
    accounts_created: summary.accountsCreated,
    owners_assigned: summary.ownersAssigned,
    errors: summary.errors,
    errors_truncated: summary.errorsTruncated,
    elapsed_ms: summary.elapsedMs,
    users_per_second: summary.elapsedMs > 0 ? Math.round((summary.imported / summary.elapsedMs) * 1000) : null,
  };
}

function describeSummary(s: ImportSummary): string {
  const verb = s.dryRun ? 'Dry run: would import' : 'Imported';
  const lines = [
    `${verb} ${s.imported} users (${s.accountsCreated} new accounts); ${s.skippedExisting} skipped (email already registered); ${s.refused} lines refused; ${s.lines} lines in ${(s.elapsedMs / 1000).toFixed(1)} s.`,
  ];
  if (s.ownersAssigned.count > 0) {
    lines.push(`${s.ownersAssigned.count} accounts had no owner in the file; the member on the first line became the owner:`);
    for (const o of s.ownersAssigned.first) lines.push(`  account ${JSON.stringify(o.account_key)}: ${o.email} (line ${o.line})`);
    if (s.ownersAssigned.count > s.ownersAssigned.first.length) lines.push(`  … and ${s.ownersAssigned.count - s.ownersAssigned.first.length} more`);
  }
  if (s.dryRun) lines.push('Nothing was written.');
  return lines.join('\n');
}

/** A progress bar on a terminal (stderr), plain counts now and then otherwise. */
function progressReporter(bytesRead: () => number, totalBytes: number) {
  const tty = process.stderr.isTTY === true;
  let lastPlain = 0;
  let barShown = false;
  const clear = () => {
    if (barShown) process.stderr.write('\r\x1b[2K');
    barShown = false;
  };
  const counts = (p: ImportProgress) => `${p.lines} lines: ${p.imported} imported, ${p.skippedExisting} skipped, ${p.refused} refused`;
  return {
    message(text: string) {
      clear();
      process.stderr.write(`${text}\n`);
    },
    update(p: ImportProgress) {
      if (tty) {
        const share = totalBytes > 0 ? Math.min(1, bytesRead() / totalBytes) : 1;
        const width = 30;
        const filled = Math.round(share * width);
        process.stderr.write(`\r\x1b[2K[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${Math.round(share * 100)}%  ${counts(p)}`);
        barShown = true;
      } else if (Date.now() - lastPlain >= 2000) {
        lastPlain = Date.now();
        process.stderr.write(`${counts(p)}\n`);
      }
    },
    done() {
      clear();
    },
  };
}
