// /ui/admin/users: find a user by email prefix (keyset-paged), see them (sessions, recent
// audit events), and end their sessions, reset their two-step verification, deactivate,
// reactivate or delete them: the admin API's service functions, with the console as origin.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Errors } from '../../lib/errors.js';
import { browseUsers, updateUserAsAdmin } from '../admin/admin-users.service.js';
import { deleteUserAsAdmin } from '../account-lifecycle/account-deletion.js';
import { searchAuditLogs } from '../audit/audit-logs.service.js';
import type { PageContext } from '../hosted-ui/page-context.js';
import { resetUserMfa } from '../admin/mfa-reset.js';
import { describeDevice } from '../sessions/device.js';
import { endSessionsAsAdmin, listSessionsAsAdmin } from '../sessions/device-sessions.service.js';
import { findUserById } from '../users/users.repo.js';
import { ADMIN_NAV } from './admin-nav.js';
import { confirmRoute, consoleMeta, done, isUuid, keysetPage, pageAdmin, pageUrl, queryText, refused, renderConsole, type Confirmation } from './console-kit.js';
import { auditRow, when } from './console-format.js';

const PAGE_SIZE = 50;
const view = { nav: ADMIN_NAV, current: '/ui/admin/users' };
const userPath = (id: string) => `/ui/admin/users/${id}`;

/** The user of the page's `:id`, or undefined (a 404 page). */
async function userOf(pages: PageContext, request: FastifyRequest) {
  const { id } = request.params as { id: string };
  return isUuid(id) ? findUserById(pages.ctx.db, id) : undefined;
}

/** What each action on a user asks before it runs. */
const CONFIRMATIONS: Record<string, (user: { id: string; email: string }) => Omit<Confirmation, 'action' | 'cancel'>> = {
  'end-sessions': (u) => ({ title: 'End every session', message: `${u.email} is signed out on every device at once: their refresh and access tokens stop working.`, button: 'End every session', danger: true }),
  'reset-mfa': (u) => ({ title: 'Reset two-step verification', message: `${u.email}'s authenticator app, recovery codes and passkeys are removed and every session ends. They sign in with their password alone until they set up two-step verification again.`, button: 'Reset two-step verification', danger: true }),
  deactivate: (u) => ({ title: 'Deactivate user', message: `${u.email} can no longer sign in, and every session ends now. You can reactivate them later.`, button: 'Deactivate', danger: true }),
  delete: (u) => ({ title: 'Delete user', message: `${u.email} and their data are deleted. This cannot be undone.`, button: 'Delete user', danger: true }),
};

export async function usersPages(app: FastifyInstance, pages: PageContext): Promise<void> {
  const { ctx } = pages;

  app.get('/admin/users', { schema: { hide: true } }, async (request, reply) => {
    const q = queryText(request.query, 'q');
    const after = queryText(request.query, 'after') || undefined;
    const page = await keysetPage(PAGE_SIZE, (limit) => browseUsers(ctx, { prefix: q, after, limit }), (user) => user.email.toLowerCase());
    const table = {
      id: 'users',
      caption: q ? `Users whose email starts with “${q}”` : 'Users by email',
      columns: ['Email', 'Name', 'Status', 'Role', 'Last sign-in'],
      rows: page.rows.map((user) => [
        { text: user.email, href: userPath(user.id) },
        user.name,
        user.is_active ? { text: 'Active', badge: 'ok' } : { text: 'Deactivated', badge: 'off' },
        user.role === 'admin' ? 'Platform admin' : 'User',
        when(user.last_login),
      ]),
      empty: q ? 'No user’s email starts with that.' : 'No users yet.',
      next: page.next ? pageUrl('/ui/admin/users', { q, after: page.next }) : undefined,
      first: after ? pageUrl('/ui/admin/users', { q }) : undefined,
    };
    return renderConsole(pages, { request, reply }, { ...view, name: 'users', data: { title: 'Users', q, table } });
  });

  app.get('/admin/users/:id', { schema: { hide: true } }, async (request, reply) => {
    const user = await userOf(pages, request);
    if (!user) return renderConsole(pages, { request, reply }, { ...view, name: 'not-found', data: { title: 'User not found', message: 'There is no user with this id. They may have been deleted.' }, status: 404 });
    const [sessions, events] = await Promise.all([listSessionsAsAdmin(ctx, user.id), searchAuditLogs(ctx, { user_id: user.id, limit: 10 })]);
    const sessionTable = {
      id: 'sessions',
      caption: 'Signed-in sessions',
      columns: ['Device', 'Signed in', 'Last used', 'IP address'],
      rows: sessions.map((s) => {
        const device = describeDevice(s.user_agent);
        const label = device.browser && device.os ? `${device.browser} on ${device.os}` : (device.browser ?? device.os ?? 'Unknown device');
        return [label, when(s.created_at), when(s.last_used_at), s.last_ip ?? s.ip ?? '—'];
      }),
      empty: 'Not signed in anywhere.',
    };
    const eventTable = {
      id: 'events',
      caption: 'What they did lately',
      columns: ['Action', 'When', 'Details'],
      rows: events.map(auditRow),
      empty: 'No events.',
    };
    return renderConsole(pages, { request, reply }, {
      ...view,
      name: 'user',
      data: { title: user.email, subject: user, self: user.id === pageAdmin(request).id, sessionTable, eventTable, auditHref: pageUrl('/ui/admin/audit', { user: user.email }) },
    });
  });

  for (const [action, confirmation] of Object.entries(CONFIRMATIONS)) {
    confirmRoute(app, pages, {
      ...view,
      path: `/admin/users/:id/${action}`,
      async describe(request) {
        const user = await userOf(pages, request);
        return user && { ...confirmation(user), action: `${userPath(user.id)}/${action}`, cancel: userPath(user.id) };
      },
    });
  }

  const act = (action: string, run: (request: FastifyRequest, id: string) => Promise<string>) =>
    app.post(`/admin/users/:id/${action}`, { schema: { hide: true } }, async (request, reply) => {
      const { id } = request.params as { id: string };
      if (!isUuid(id)) throw Errors.userNotFound();
      try {
        const notice = await run(request, id);
        return done(pages, reply, { location: action === 'delete' ? '/ui/admin/users' : userPath(id), notice });
      } catch (err) {
        return refused(pages, reply, { location: userPath(id), err });
      }
    });

  act('end-sessions', async (request, id) => {
    const ended = await endSessionsAsAdmin(ctx, { actorId: pageAdmin(request).id, userId: id, meta: consoleMeta(request) });
    return ended === 1 ? 'One session ended.' : `${ended} sessions ended.`;
  });
  act('reset-mfa', async (request, id) => {
    await resetUserMfa(ctx, { adminId: pageAdmin(request).id, userId: id, meta: consoleMeta(request) });
    return 'Two-step verification was reset and every session ended.';
  });
  act('deactivate', async (request, id) => {
    await updateUserAsAdmin(ctx, { actorId: pageAdmin(request).id, userId: id, changes: { is_active: false }, meta: consoleMeta(request) });
    return 'The user was deactivated and every session ended.';
  });
  act('reactivate', async (request, id) => {
    await updateUserAsAdmin(ctx, { actorId: pageAdmin(request).id, userId: id, changes: { is_active: true }, meta: consoleMeta(request) });
    return 'The user was reactivated: they can sign in again.';
  });
  act('delete', async (request, id) => {
    const user = await findUserById(ctx.db, id);
    await deleteUserAsAdmin(ctx, { actorId: pageAdmin(request).id, userId: id, meta: consoleMeta(request) });
    return `${user?.email ?? 'The user'} was deleted.`;
  });
}
