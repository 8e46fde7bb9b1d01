// Several independent writes of one change sent as one statement: each becomes a
// data-modifying CTE of `WITH w0 AS (…), w1 AS (…) SELECT …`, so a change that writes a row
// to five tables costs one round trip (and one socket write) instead of five. PostgreSQL runs
// every data-modifying CTE exactly once, referenced or not, all against the statement's one
// snapshot: a write here must not need to see another's effect (foreign keys are fine: their
// checks run at the end of the statement, after every CTE has written).
//
// Each repo builds its own Write (its SQL stays in its *.repo.ts); the caller collects them.
// A write that says `returning` gets its RETURNING rows back as JSON (to_jsonb: timestamps
// come back as strings), for the few that need a value (an event's status). A read the change
// needs back (a SELECT) may go along too: it must say `returning`, since PostgreSQL runs a
// plain CTE only where the statement refers to it, and it sees the statement's one snapshot,
// not the writes' effects.
import { CompiledQuery } from 'kysely';
import type { Executor } from './executor.js';
import { endingItsChange } from './after-commit.js';
import { markedAs } from './prepared.js';

export interface Write {
  /** One INSERT, UPDATE or DELETE (or a SELECT that says `returning`) with $1, $2, … placeholders. */
  readonly sql: string;
  readonly parameters: readonly unknown[];
  /** Ends in RETURNING (or is a SELECT): its rows come back (as JSON objects). */
  readonly returning?: boolean;
  /** Run after the statement, with this write's rows (e.g. noting a queued job kind). */
  readonly then?: (db: Executor, rows: Array<Record<string, unknown>>) => void | Promise<void>;
}

/** A Write from a compiled Kysely query (`builder.compile()`, `sql\`…\`.compile(db)`). */
export function writeOf(compiled: CompiledQuery, options: Pick<Write, 'returning' | 'then'> = {}): Write {
  return { sql: compiled.sql, parameters: compiled.parameters, ...options };
}

export interface TogetherOptions {
  /** Run the statement as this named prepared statement (db/prepared.ts): for writes whose
   *  texts and number never vary, sent together on a hot path (an event's, events.repo.ts). */
  preparedAs?: string;
  /** The change's last statement: where it is also its transaction's first, it is sent alone,
   *  without BEGIN and COMMIT (db/after-commit.ts), and any statement after it is refused. */
  endsItsChange?: boolean;
}

/** Runs `writes` as one statement; returns each write's rows (empty for those not `returning`). */
export async function writeTogether(db: Executor, writes: readonly Write[], options: TogetherOptions = {}): Promise<Array<Array<Record<string, unknown>>>> {
  if (writes.length === 0) return [];
  if (writes.length === 1) {
    // Alone, a write is sent as it is (its rows typed by the driver, not JSON).
    const [write] = writes as [Write];
    const result = await db.executeQuery<Record<string, unknown>>(CompiledQuery.raw(ending(write.sql, options.endsItsChange), [...write.parameters]));
    await write.then?.(db, result.rows);
    return [result.rows];
  }
  const parameters = writes.flatMap((write) => write.parameters);
  const sent = options.preparedAs ? preparedText(options.preparedAs, writes, options.endsItsChange) : ending(combinedText(writes), options.endsItsChange);
  const result = await db.executeQuery<{ w: number; row: Record<string, unknown> }>(CompiledQuery.raw(sent, parameters));
  const rows: Array<Array<Record<string, unknown>>> = writes.map(() => []);
  for (const { w, row } of result.rows) rows[w]!.push(row);
  for (const [i, write] of writes.entries()) await write.then?.(db, rows[i]!);
  return rows;
}

const ending = (text: string, endsItsChange = false): string => (endsItsChange ? endingItsChange(text) : text);

function combinedText(writes: readonly Write[]): string {
  let offset = 0;
  const ctes = writes.map((write, i) => {
    // Unreferenced, a read would never run (nor take its locks): a mistake, not a no-op.
    if (!write.returning && /^\s*SELECT\b/i.test(write.sql)) throw new Error('writeTogether: a SELECT must say `returning`');
    const text = renumber(write.sql, offset);
    offset += write.parameters.length;
    return `w${i} AS (${text})`;
  });
  const selects = writes.flatMap((write, i) => (write.returning ? [`SELECT ${i} AS w, to_jsonb(w${i}) AS row FROM w${i}`] : []));
  return `WITH ${ctes.join(',\n')}\n${selects.length > 0 ? selects.join('\nUNION ALL\n') : 'SELECT NULL::int AS w, NULL::jsonb AS row WHERE false'}`;
}

/** A prepared statement's combined text, by name, with the writes it was built from. */
const preparedTexts = new Map<string, { writes: Array<Pick<Write, 'sql' | 'returning'> & { count: number }>; endsItsChange: boolean; text: string }>();

/**
 * The text of a named statement: one name has one text for good (db/prepared.ts), so it is
 * built once, not renumbered on every sign-in (a tenth of a millisecond of the event loop's
 * time per login, bench/login-cost.ts). Writes, or an endsItsChange, that differ from those it
 * was built from (a mistake: two callers giving one name to different statements) rebuild it,
 * and the driver then refuses the second text under the same name, as it would without this:
 * never is a statement sent as a change's end that its caller did not mark so.
 */
function preparedText(name: string, writes: readonly Write[], endsItsChange = false): string {
  const kept = preparedTexts.get(name);
  const same = kept !== undefined && kept.endsItsChange === endsItsChange && kept.writes.length === writes.length && kept.writes.every((w, i) => {
    const write = writes[i]!;
    return w.sql === write.sql && w.count === write.parameters.length && Boolean(w.returning) === Boolean(write.returning);
  });
  if (same) return kept.text;
  const text = markedAs(name, ending(combinedText(writes), endsItsChange));
  preparedTexts.set(name, { writes: writes.map((write) => ({ sql: write.sql, returning: write.returning, count: write.parameters.length })), endsItsChange, text });
  return text;
}

/** `$n` → `$(n + offset)`, outside quoted literals and identifiers (which the repos' SQL never
 *  puts a `$` in; one that did would be refused rather than mangled). */
export function renumber(text: string, offset: number): string {
  let out = '';
  let quote: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === '$') throw new Error('writeTogether: a "$" inside a quoted literal or identifier');
      if (c === quote) quote = null; // a doubled quote closes and reopens: the same result
      out += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      out += c;
    } else if (c === '$' && /[0-9]/.test(text[i + 1] ?? '')) {
      let j = i + 1;
      while (j < text.length && /[0-9]/.test(text[j]!)) j++;
      out += `$${Number(text.slice(i + 1, j)) + offset}`;
      i = j - 1;
    } else {
      out += c;
    }
  }
  return out;
}
