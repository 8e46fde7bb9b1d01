// Audit rows are written with the executor of the change they record, so the row and the
// change commit or roll back together.
import { sql } from 'kysely';
import type { RequestMeta } from '../../context.js';
import { preparedStatement } from '../../db/prepared.js';
import type { AuditAction } from './audit-actions.js';
import type { Executor } from '../../db/database.js';
import { writeOf, type Write } from '../../db/together.js';
import { tableRule, type RetentionRegistry } from '../retention/retention-rules.js';
import { addDays } from '../../lib/clock.js';

export interface AuditEvent {
  /** One of the catalogue's (audit-actions.ts): a typo does not compile. */
  action: AuditAction;
  userId?: string | null;
  resourceType?: string;
  resourceId?: string;
  /** Never a password, token or hash: this is readable by every platform admin. */
  details?: Record<string, unknown>;
}

const MAX_USER_AGENT = 512;

// Nearly every change writes one, so it is a prepared statement.
const insertAudit = preparedStatement('record_audit', `
  INSERT INTO audit_logs (user_id, action, resource_type, resource_id, ip, user_agent, details)
  VALUES ($1, $2, $3, $4, $5, $6, $7)`);

/** The row's details; a change made in the console says so (`via: 'console'`) unless the event
 *  names its own `via` (a sign-out from the pages keeps `hosted_ui`). */
function detailsOf(meta: RequestMeta | null, event: AuditEvent): Record<string, unknown> {
  if (!meta?.via || event.details?.via !== undefined) return event.details ?? {};
  return { ...event.details, via: meta.via };
}

const auditParameters = (meta: RequestMeta | null, event: AuditEvent): unknown[] => [
  event.userId ?? null,
  event.action,
  event.resourceType ?? null,
  event.resourceId ?? null,
  meta?.ip ?? null,
  meta?.userAgent?.slice(0, MAX_USER_AGENT) ?? null,
  JSON.stringify(detailsOf(meta, event)),
];

export async function recordAudit(db: Executor, meta: RequestMeta | null, event: AuditEvent): Promise<void> {
  await insertAudit(db, auditParameters(meta, event));
}

/** The audit row as a Write, for a change that sends its writes together (db/together.ts). */
export const auditWrite = (meta: RequestMeta | null, event: AuditEvent): Write => ({ sql: insertAudit.text, parameters: auditParameters(meta, event) });

/** Many events of one request in one statement (an import batch): one array per column
 *  through unnest(), which PostgreSQL binds far faster than a VALUES list of thousands. */
export async function recordAudits(db: Executor, meta: RequestMeta | null, events: AuditEvent[]): Promise<void> {
  if (events.length === 0) return;
  if (events.length === 1) return recordAudit(db, meta, events[0]!);
  await auditsQuery(meta, events).execute(db);
}

/** recordAudits as a Write (db/together.ts). */
export function auditsWrite(db: Executor, meta: RequestMeta | null, events: AuditEvent[]): Write {
  return events.length === 1 ? auditWrite(meta, events[0]!) : writeOf(auditsQuery(meta, events).compile(db));
}

function auditsQuery(meta: RequestMeta | null, events: AuditEvent[]) {
  return sql`
    INSERT INTO audit_logs (user_id, action, resource_type, resource_id, ip, user_agent, details)
    SELECT user_id, action, resource_type, resource_id, ${meta?.ip ?? null}, ${meta?.userAgent?.slice(0, MAX_USER_AGENT) ?? null}, details
      FROM unnest(${events.map((e) => e.userId ?? null)}::uuid[], ${events.map((e) => e.action)}::text[],
                  ${events.map((e) => e.resourceType ?? null)}::text[], ${events.map((e) => e.resourceId ?? null)}::text[],
                  ${events.map((e) => JSON.stringify(detailsOf(meta, e)))}::jsonb[])
        AS e(user_id, action, resource_type, resource_id, details)`;
}

// ---- retention (modules/retention): AUDIT_RETENTION_DAYS --------------------------------

/** Deletes up to `limit` audit events recorded before `before`; returns how many. */
export async function purgeAuditLogs(db: Executor, before: Date, limit: number): Promise<number> {
  const result = await db
    .deleteFrom('audit_logs')
    .where('id', 'in', (eb) =>
      eb.selectFrom('audit_logs').select('id').where('created_at', '<', before).limit(limit).forUpdate().skipLocked(),
    )
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** How many audit events `purgeAuditLogs` would remove, all batches together (a dry run). */
export async function countAuditLogs(db: Executor, before: Date): Promise<number> {
  const row = await db
    .selectFrom('audit_logs')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('created_at', '<', before)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

// ---- account deletion ------------------------------------------------------------------

/**
 * A deleted user's audit trail stays (with their id: audit_logs.user_id has no foreign key,
 * so nothing cascades or nulls it), but their email address leaves it: the `email` detail of
 * every row that names it (a failed sign-in, an invite to them) is removed. The partial index
 * audit_logs_details_email_idx (0009) finds those rows; this WHERE repeats its predicate.
 */
export async function eraseEmailFromAuditLogs(db: Executor, email: string): Promise<number> {
  const result = await sql`
    UPDATE audit_logs SET details = details - 'email'
     WHERE details ? 'email' AND details ->> 'email' = ${email}`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}

/** Retention (modules/retention): AUDIT_RETENTION_DAYS, or kept forever at 0. */
export function registerAuditRetention(registry: RetentionRegistry, days: number): void {
  if (days === 0) registry.keep('audit_logs', 'kept forever (AUDIT_RETENTION_DAYS=0)');
  else registry.add(tableRule({ table: 'audit_logs', rule: `older than ${days} days`, cutoff: (now) => addDays(now, -days), purge: purgeAuditLogs, count: countAuditLogs }));
}
