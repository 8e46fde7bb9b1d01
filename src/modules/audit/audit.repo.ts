// Audit rows are written with the executor of the change they record, so the row and the
// change commit or roll back together.
import type { Kysely } from 'kysely';
import type { RequestMeta } from '../../context.js';
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

export async function recordAudit(db: Kysely<Database>, meta: RequestMeta | null, event: AuditEvent): Promise<void> {
  await db
    .insertInto('audit_logs')
    .values({
      user_id: event.userId ?? null,
      action: event.action,
      resource_type: event.resourceType ?? null,
      resource_id: event.resourceId ?? null,
      ip: meta?.ip ?? null,
      user_agent: meta?.userAgent?.slice(0, MAX_USER_AGENT) ?? null,
      details: JSON.stringify(event.details ?? {}),
    })
    .execute();
}
