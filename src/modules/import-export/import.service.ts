// `keyhold import`: users from a JSON-lines file, in batches, each batch one transaction.
//
// Constant memory: lines are read one at a time and held only for their batch; what a run must
// remember across batches (addresses seen, accounts created) lives in temporary tables of the
// run's one connection (import-export.repo.ts). Each batch is checked first, line by line
// (schema, hash format and cost, duplicates in the file, addresses already taken, identities
// already linked, a second owner) and only the lines that pass are written, through
// createUsers, the one function that creates users, in its multi-row form.
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { AppContext, RequestMeta } from '../../context.js';
import type { Executor } from '../../db/database.js';
import { DISPLAY_CODE_LENGTH, standardTrial } from '../accounts/personal-account.js';
import { insertAccountsWithFreshDisplayCodes, insertSubscriptions, setAccountOwners } from '../accounts/accounts.repo.js';
import { insertOAuthIdentities } from '../oauth/oauth.repo.js';
import { createUsers, type NewUserInput } from '../accounts/create-user.js';
import { checkImportLine, type ImportRecord } from './import-line.js';
import {
  createRunTables,
  dropRunTables,
  findKeyedAccounts,
  findRunEmails,
  findTakenEmails,
  findTakenIdentities,
  insertAccountKeys,
  promoteFirstMembers,
  rememberRunAccounts,
  rememberRunEmails,
} from './import-export.repo.js';
import { randomUUID } from 'node:crypto';

export const DEFAULT_BATCH_SIZE = 5000;
/** The summary lists at most this many refused lines (all are reported through onLineError). */
const SUMMARY_ERROR_LIMIT = 1000;

export interface ImportOptions {
  dryRun: boolean;
  batchSize?: number;
  /** Each refused line, as it is found. */
  onLineError?: (line: number, reason: string) => void;
  /** After each batch. */
  onProgress?: (progress: ImportProgress) => void;
}

export interface ImportProgress {
  lines: number;
  imported: number;
  skippedExisting: number;
  refused: number;
}

export interface ImportSummary extends ImportProgress {
  dryRun: boolean;
  accountsCreated: number;
  /** Accounts the file gave no owner: the member with the first line was made the owner. */
  ownersAssigned: { count: number; first: Array<{ account_key: string; line: number; email: string }> };
  errors: Array<{ line: number; reason: string }>;
  errorsTruncated: boolean;
  elapsedMs: number;
}

class DryRunRollback extends Error {}

type Ctx = Pick<AppContext, 'config' | 'db' | 'clock'>;

export interface ImportUsers {
  input: Readable;
  options: ImportOptions;
  meta: RequestMeta | null;
}

export async function importUsers(ctx: Ctx, { input, options, meta }: ImportUsers): Promise<ImportSummary> {
  const started = performance.now();
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  const summary: ImportSummary = {
    dryRun: options.dryRun,
    lines: 0,
    imported: 0,
    skippedExisting: 0,
    refused: 0,
    accountsCreated: 0,
    ownersAssigned: { count: 0, first: [] },
    errors: [],
    errorsTruncated: false,
    elapsedMs: 0,
  };
  const refuse = (line: number, reason: string): void => {
    summary.refused++;
    if (summary.errors.length < SUMMARY_ERROR_LIMIT) summary.errors.push({ line, reason });
    else summary.errorsTruncated = true;
    options.onLineError?.(line, reason);
  };

  // One connection for the whole run: its temporary tables hold the run's bookkeeping.
  await ctx.db.connection().execute(async (conn) => {
    await createRunTables(conn);
    try {
      // A real run commits batch by batch; a dry run does all of it in one transaction that
      // is rolled back, so it checks exactly what a real run would and leaves nothing behind.
      // While one batch is being written, the next is read and checked: the database's work and
      // this process's overlap, and no more than two batches are ever held.
      const inBatches = async (runBatch: (records: ImportRecord[]) => Promise<void>) => {
        let batch: ImportRecord[] = [];
        let lineNumber = 0;
        let inFlight: Promise<void> | undefined;
        const write = async (records: ImportRecord[]) => {
          await inFlight;
          inFlight = runBatch(records).then(() => options.onProgress?.(summary));
          inFlight.catch(() => {}); // awaited (and rethrown) before the next batch or at the end
        };
        const lines = createInterface({ input, crlfDelay: Infinity });
        for await (const text of lines) {
          lineNumber++;
          if (text.trim() === '') continue;
          summary.lines++;
          const checked = checkImportLine(text, lineNumber, ctx.clock.now());
          if (!checked.ok) refuse(checked.line, checked.reason);
          else batch.push(checked.record);
          if (batch.length >= batchSize) {
            await write(batch);
            batch = [];
          }
        }
        if (batch.length > 0) await write(batch);
        await inFlight;
      };
      const finish = async (trx: Executor) => {
        const promoted = await promoteFirstMembers(trx, ctx.clock.now(), 100);
        summary.ownersAssigned = { count: promoted.count, first: promoted.first.map((p) => ({ account_key: p.key, line: p.line, email: p.email })) };
      };
      if (options.dryRun) {
        await conn
          .transaction()
          .execute(async (trx) => {
            await inBatches((records) => importBatch(ctx, trx, { records, summary, refuse, meta }));
            await finish(trx);
            throw new DryRunRollback();
          })
          .catch((err: unknown) => {
            if (!(err instanceof DryRunRollback)) throw err;
          });
      } else {
        await inBatches((records) => conn.transaction().execute((trx) => importBatch(ctx, trx, { records, summary, refuse, meta })));
        await conn.transaction().execute(finish);
      }
    } finally {
      await dropRunTables(conn).catch(() => {});
    }
  });
  options.onProgress?.(summary);
  summary.elapsedMs = Math.round(performance.now() - started);
  return summary;
}

/** Checks one batch against the database and writes the lines that pass, in `trx`. */
interface ImportBatch {
  records: ImportRecord[];
  /** The run's counts, added to once the batch has been written. */
  summary: ImportSummary;
  /** Records a refused line (its number and why). */
  refuse: (line: number, reason: string) => void;
  meta: RequestMeta | null;
}

async function importBatch(ctx: Ctx, trx: Executor, batch: ImportBatch): Promise<void> {
  const { records, summary, refuse, meta } = batch;
  // Counted only when the transaction commits: a batch that fails leaves the counts as they were.
  let imported = 0;
  let skipped = 0;
  let accountsCreated = 0;
  const refusals: Array<[number, string]> = [];

  // Duplicates within the file: within this batch, then against earlier batches.
  const firstLine = new Map<string, number>();
  let pending: ImportRecord[] = [];
  for (const record of records) {
    const earlier = firstLine.get(record.email);
    if (earlier !== undefined) refusals.push([record.line, `email ${record.email} is also on line ${earlier}`]);
    else {
      firstLine.set(record.email, record.line);
      pending.push(record);
    }
  }
  const seenBefore = await findRunEmails(trx, pending.map((r) => r.email));
  pending = pending.filter((record) => {
    const earlier = seenBefore.get(record.email);
    if (earlier !== undefined) refusals.push([record.line, `email ${record.email} is also on line ${earlier}`]);
    return earlier === undefined;
  });
  await rememberRunEmails(trx, pending.map((r) => ({ email: r.email, line: r.line })));

  // Addresses that already have a user: skipped, not refused.
  const taken = await findTakenEmails(trx, pending.map((r) => r.email));
  pending = pending.filter((record) => {
    if (taken.has(record.email)) skipped++;
    return !taken.has(record.email);
  });

  // Provider identities: each may belong to one user only.
  const identities = pending.flatMap((r) => r.oauth);
  const linked = await findTakenIdentities(trx, identities);
  const claimed = new Map<string, number>();
  pending = pending.filter((record) => {
    for (const identity of record.oauth) {
      const pair = `${identity.provider}\u0000${identity.subject}`;
      const other = claimed.get(pair);
      if (linked.has(pair) || other !== undefined) {
        refusals.push([record.line, `oauth: ${identity.provider} identity ${JSON.stringify(identity.subject)} already belongs to ${other !== undefined ? `line ${other}` : 'another user'}`]);
        return false;
      }
    }
    for (const identity of record.oauth) claimed.set(`${identity.provider}\u0000${identity.subject}`, record.line);
    return true;
  });

  // Accounts by key: found (an earlier batch or run made them, or the key is an account id),
  // or created now. One owner each: a second `owner` line is refused.
  const keys = [...new Set(pending.flatMap((r) => (r.account ? [r.account.key] : [])))];
  const accounts = await findKeyedAccounts(trx, keys);
  const hasOwner = new Map<string, number | true>();
  for (const account of accounts.values()) if (account.ownerId) hasOwner.set(account.key, true);
  pending = pending.filter((record) => {
    if (!record.account || record.accountRole !== 'owner') return true;
    const owner = hasOwner.get(record.account.key);
    if (owner !== undefined) {
      refusals.push([record.line, `account_role: account ${JSON.stringify(record.account.key)} already has an owner${owner === true ? '' : ` (line ${owner})`}`]);
      return false;
    }
    hasOwner.set(record.account.key, record.line);
    return true;
  });
  const now = ctx.clock.now();
  const newAccounts = new Map<string, { id: string; record: ImportRecord }>();
  for (const record of pending) {
    if (record.account && !accounts.has(record.account.key) && !newAccounts.has(record.account.key)) {
      newAccounts.set(record.account.key, { id: randomUUID(), record });
    }
  }
  if (newAccounts.size > 0) {
    const created = [...newAccounts.entries()];
    await insertAccountsWithFreshDisplayCodes(
      trx,
      created.map(([, { id, record }]) => ({ id, name: record.account!.name, ownerId: null, codeLength: DISPLAY_CODE_LENGTH, ...(record.createdAt ? { createdAt: record.createdAt } : {}) })),
    );
    await insertSubscriptions(trx, created.map(([, { id, record }]) => ({ account_id: id, ...subscriptionOf(record, now, ctx.config.trialDays) })));
    await insertAccountKeys(trx, created.map(([key, { id }]) => ({ key, accountId: id })));
    await rememberRunAccounts(trx, created.map(([, { id }]) => id));
    for (const [key, { id }] of created) accounts.set(key, { key, accountId: id, ownerId: null });
    accountsCreated = created.length;
  }

  const inputs: NewUserInput[] = pending.map((record) => ({
    email: record.email,
    name: record.name,
    passwordHash: record.passwordHash,
    role: record.role,
    emailVerifiedAt: record.emailVerifiedAt,
    membership: record.account ? { accountId: accounts.get(record.account.key)!.accountId, role: record.accountRole ?? 'member' } : null,
    ...(record.createdAt ? { createdAt: record.createdAt } : {}),
    isActive: record.isActive,
    mustChangePassword: record.mustChangePassword,
    audit: { action: 'admin.user_imported', details: { line: record.line } },
  }));
  const users = await createUsers(ctx, trx, { inputs, meta, announce: false });
  await setAccountOwners(
    trx,
    pending.flatMap((record, i) => (record.account && record.accountRole === 'owner' ? [{ accountId: accounts.get(record.account.key)!.accountId, ownerId: users[i]!.id }] : [])),
  );
  await insertOAuthIdentities(
    trx,
    pending.flatMap((record, i) => record.oauth.map((identity) => ({ userId: users[i]!.id, ...identity, now }))),
  );
  imported = users.length;

  // Committed (or, in a dry run, part of the one transaction): now the counts and reports.
  summary.imported += imported;
  summary.skippedExisting += skipped;
  summary.accountsCreated += accountsCreated;
  for (const [line, reason] of refusals.sort((a, b) => a[0] - b[0])) refuse(line, reason);
}

/** A named account's subscription: the file's plan (active unless it says otherwise), else the standard trial. */
function subscriptionOf(record: ImportRecord, now: Date, trialDays: number) {
  const account = record.account!;
  if (!account.plan) {
    const trial = standardTrial(now, trialDays);
    return { ...trial, ...(account.status ? { status: account.status } : {}), ...(account.periodEnd ? { current_period_end: account.periodEnd } : {}) };
  }
  return { plan: account.plan, status: account.status ?? ('active' as const), current_period_start: null, current_period_end: account.periodEnd };
}
