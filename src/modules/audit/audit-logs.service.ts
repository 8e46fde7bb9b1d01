// GET /admin/audit-logs: filters checked once here, then the keyset query.
import type { AppContext } from '../../context.js';
import type { AuditLogRow } from '../../db/schema.js';
import { validationError } from '../../lib/errors.js';
import { checkPage } from '../../http/paging.js';
import { listAuditLogs } from './audit-logs.repo.js';

export const AUDIT_LOG_PAGE = { defaultLimit: 50, maxLimit: 200 } as const;
const MAX_BIGINT = 9_223_372_036_854_775_807n;

export interface AuditLogQuery {
  user_id?: string;
  action?: string;
  limit?: number;
  before?: string;
  since?: string;
  until?: string;
}

function checkTime(value: string | undefined, name: string): Date | undefined {
  if (value === undefined) return undefined;
  const date = new Date(value);
  const year = date.getUTCFullYear();
  // The schema has checked the format; the range keeps the value one the database stores.
  if (Number.isNaN(date.getTime()) || year < 1970 || year > 9999) {
    throw validationError(['query', name], 'Input should be a date-time between 1970 and 9999', 'datetime_range');
  }
  return date;
}

export async function searchAuditLogs(ctx: Pick<AppContext, 'db'>, query: AuditLogQuery): Promise<AuditLogRow[]> {
  // Keyset paging: only the limit of checkPage applies (the cursor replaces the offset).
  const { limit } = checkPage({ limit: query.limit }, AUDIT_LOG_PAGE);
  if (query.before !== undefined && (!/^[0-9]{1,19}$/.test(query.before) || BigInt(query.before) > MAX_BIGINT)) {
    throw validationError(['query', 'before'], 'Input should be the id of an audit log row', 'int_parsing');
  }
  return listAuditLogs(ctx.db, {
    userId: query.user_id,
    action: query.action,
    before: query.before,
    since: checkTime(query.since, 'since'),
    until: checkTime(query.until, 'until'),
    limit,
  });
}
