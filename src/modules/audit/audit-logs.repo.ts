// Reading the audit log (writing is audit.repo.ts recordAudit). Newest first by id, with
// keyset paging: `before` is the id of the last row the reader has seen.
import type { AuditLogRow } from '../../db/schema.js';
import type { Executor } from '../../db/database.js';

export interface AuditLogFilter {
  userId?: string;
  action?: string;
  /** Rows with an id below this one (a bigint as a decimal string). */
  before?: string;
  since?: Date;
  until?: Date;
  limit: number;
}

export async function listAuditLogs(db: Executor, filter: AuditLogFilter): Promise<AuditLogRow[]> {
  let query = db.selectFrom('audit_logs').selectAll();
  if (filter.userId !== undefined) query = query.where('user_id', '=', filter.userId);
  if (filter.action !== undefined) query = query.where('action', '=', filter.action);
  if (filter.before !== undefined) query = query.where('id', '<', filter.before);
  if (filter.since !== undefined) query = query.where('created_at', '>=', filter.since);
  if (filter.until !== undefined) query = query.where('created_at', '<', filter.until);
  return query.orderBy('id', 'desc').limit(filter.limit).execute();
}

/** Every event the user did, newest first (the data export). */
export async function listUserAuditLogs(db: Executor, userId: string): Promise<AuditLogRow[]> {
  return db.selectFrom('audit_logs').selectAll().where('user_id', '=', userId).orderBy('id', 'desc').execute();
}
