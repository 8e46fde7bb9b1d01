// Audit rows are written with the executor of the change they record, so the row and the
// change commit or roll back together.
import type { Kysely } from 'kysely';
import type { RequestMeta } from '../../context.js';
import { preparedStatement } from '../../db/prepared.js';
import type { Database } from '../../db/schema.js';

export interface AuditEvent {
  action: string;
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

export async function recordAudit(db: Kysely<Database>, meta: RequestMeta | null, event: AuditEvent): Promise<void> {
  await insertAudit(db, [
    event.userId ?? null,
    event.action,
    event.resourceType ?? null,
    event.resourceId ?? null,
    meta?.ip ?? null,
    meta?.userAgent?.slice(0, MAX_USER_AGENT) ?? null,
    JSON.stringify(event.details ?? {}),
  ]);
}
