// /ui/admin/audit: the audit log, newest first, filtered by user (email), action and days,
// keyset-paged by id: the admin API's searchAuditLogs, so the same filters and indexes.
import type { FastifyInstance } from 'fastify';
import { normalizeEmail } from '../../lib/email-address.js';
import { emailsOfUsers } from '../admin/admin-users.service.js';
import { AUDIT_ACTIONS } from '../audit/audit-actions.js';
import { searchAuditLogs } from '../audit/audit-logs.service.js';
import type { PageContext } from '../hosted-ui/page-context.js';
import { findUserByEmail, findUserById } from '../users/users.repo.js';
import { ADMIN_NAV } from './admin-nav.js';
import { isUuid, keysetPage, pageUrl, queryText, renderConsole } from './console-kit.js';
import { detailsText, when } from './console-format.js';

const PAGE_SIZE = 50;
const DAY = /^\d{4}-\d{2}-\d{2}$/;
const view = { nav: ADMIN_NAV, current: '/ui/admin/audit' };

/** A YYYY-MM-DD field as the start of that day (UTC), or of the next one (`until` is inclusive). */
function dayStart(value: string, plusDays = 0): string | undefined {
  if (!DAY.test(value)) return undefined;
  const date = new Date(`${value}T00:00:00Z`);
  if (Number.isNaN(date.getTime())) return undefined;
  date.setUTCDate(date.getUTCDate() + plusDays);
  return date.toISOString();
}

export async function auditPages(app: FastifyInstance, pages: PageContext): Promise<void> {
  const { ctx } = pages;

  app.get('/admin/audit', { schema: { hide: true } }, async (request, reply) => {
    const filters = {
      user: queryText(request.query, 'user'),
      action: queryText(request.query, 'action'),
      since: queryText(request.query, 'since'),
      until: queryText(request.query, 'until'),
    };
    const before = queryText(request.query, 'before');
    const problems: string[] = [];
    // A user by email or id; an unknown one matches nothing (not everything).
    const user = filters.user ? (isUuid(filters.user) ? await findUserById(ctx.db, filters.user) : await findUserByEmail(ctx.db, normalizeEmail(filters.user))) : undefined;
    if (filters.user && !user) problems.push(`No user ${filters.user}.`);
    const action = (AUDIT_ACTIONS as readonly string[]).includes(filters.action) ? filters.action : undefined;
    if (filters.action && !action) problems.push(`No action ${filters.action}.`);
    const query = {
      user_id: user?.id,
      action,
      since: dayStart(filters.since),
      until: dayStart(filters.until, 1),
      before: /^\d{1,19}$/.test(before) ? before : undefined,
    };
    const page = problems.length > 0 ? { rows: [] } : await keysetPage(PAGE_SIZE, (limit) => searchAuditLogs(ctx, { ...query, limit }), (row) => row.id);
    const actors = await emailsOfUsers(ctx, page.rows.map((row) => row.user_id).filter((id): id is string => id !== null));
    const table = {
      id: 'audit',
      caption: 'Audit events, newest first',
      columns: ['Action', 'When', 'User', 'Resource', 'IP address', 'Details'],
      rows: page.rows.map((row) => [
        { text: row.action, code: true, nowrap: true },
        when(row.created_at),
        row.user_id ? { text: actors.get(row.user_id) ?? row.user_id, href: `/ui/admin/users/${row.user_id}` } : '—',
        row.resource_type ? { text: `${row.resource_type} ${row.resource_id ?? ''}`, long: true } : '—',
        row.ip ?? '—',
        { text: detailsText(row.details), long: true },
      ]),
      empty: problems.length > 0 ? problems.join(' ') : 'No events match.',
      next: 'next' in page && page.next ? pageUrl('/ui/admin/audit', { ...filters, before: page.next }) : undefined,
      first: query.before ? pageUrl('/ui/admin/audit', filters) : undefined,
    };
    return renderConsole(pages, { request, reply }, { ...view, name: 'audit', data: { title: 'Audit log', filters, actions: AUDIT_ACTIONS, table } });
  });
}
