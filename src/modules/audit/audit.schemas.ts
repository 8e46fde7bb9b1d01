// The audit log as the API shows it (GET /admin/audit-logs, GET /accounts/me/audit-logs, the data export).
import { Type, type Static } from '@sinclair/typebox';
import type { AuditLogRow } from '../../db/schema.js';
import { DateTime, Nullable, Uuid } from '../../http/schema-types.js';
import { AUDIT_LOG_PAGE } from './audit-logs.service.js';

export const AuditLogResponse = Type.Object({
  id: Type.String({ description: `A bigint as a decimal string; newest first, at most ${AUDIT_LOG_PAGE.maxLimit} a page` }),
  created_at: DateTime,
  user_id: Nullable(Uuid),
  action: Type.String(),
  resource_type: Nullable(Type.String()),
  resource_id: Nullable(Type.String()),
  ip: Nullable(Type.String()),
  user_agent: Nullable(Type.String()),
  details: Type.Object({}, { additionalProperties: true }),
});
export type AuditLogResponse = Static<typeof AuditLogResponse>;

export const toAuditLogResponse = (row: AuditLogRow): AuditLogResponse => ({
  id: row.id,
  created_at: row.created_at.toISOString(),
  user_id: row.user_id,
  action: row.action,
  resource_type: row.resource_type,
  resource_id: row.resource_id,
  ip: row.ip,
  user_agent: row.user_agent,
  details: row.details,
});
