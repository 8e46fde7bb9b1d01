// /ui/admin/accounts: find accounts by name (keyset-paged) and see one: its subscription,
// members, verified domains, SSO connections and SCIM tokens (a token can be revoked here).
// The account owners' own console (/ui/account/organization) changes the rest.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Errors } from '../../lib/errors.js';
import { accountForAdmin, browseAccounts } from '../accounts/account-directory.js';
import { adminAccountScope } from '../accounts/account-scope.js';
import { listAccountDomains } from '../domains/domains.service.js';
import type { PageContext } from '../hosted-ui/page-context.js';
import { listScopedScimTokens, revokeScopedScimToken } from '../scim/scim-tokens.service.js';
import { getPolicy, listAccountConnections } from '../sso/connections.service.js';
import { ADMIN_NAV } from './admin-nav.js';
import { confirmRoute, consoleMeta, done, isUuid, keysetPage, pageAdmin, pageUrl, queryText, refused, renderConsole } from './console-kit.js';
import { when } from './console-format.js';

const PAGE_SIZE = 50;
const view = { nav: ADMIN_NAV, current: '/ui/admin/accounts' };
const accountPath = (id: string) => `/ui/admin/accounts/${id}`;

/** The keyset cursor of the account list: name and id (names repeat), as one URL-safe value. */
const encodeCursor = (row: { name: string; id: string }) => Buffer.from(JSON.stringify([row.name, row.id])).toString('base64url');
function decodeCursor(value: string): { name: string; id: string } | undefined {
  try {
    const [name, id] = JSON.parse(Buffer.from(value, 'base64url').toString('utf8')) as unknown[];
    return typeof name === 'string' && typeof id === 'string' && isUuid(id) ? { name, id } : undefined;
  } catch {
    return undefined;
  }
}

export async function accountsPages(app: FastifyInstance, pages: PageContext): Promise<void> {
  const { ctx } = pages;

  app.get('/admin/accounts', { schema: { hide: true } }, async (request, reply) => {
    const q = queryText(request.query, 'q');
    const afterText = queryText(request.query, 'after');
    const after = afterText ? decodeCursor(afterText) : undefined;
    const page = await keysetPage(PAGE_SIZE, (limit) => browseAccounts(ctx, { prefix: q, after, limit }), encodeCursor);
    const table = {
      id: 'accounts',
      caption: q ? `Accounts whose name starts with “${q}”` : 'Accounts by name',
      columns: ['Name', 'Code', 'Created'],
      rows: page.rows.map((a) => [{ text: a.name, href: accountPath(a.id) }, { text: a.display_code, code: true }, when(a.created_at)]),
      empty: q ? 'No account’s name starts with that.' : 'No accounts yet.',
      next: page.next ? pageUrl('/ui/admin/accounts', { q, after: page.next }) : undefined,
      first: afterText ? pageUrl('/ui/admin/accounts', { q }) : undefined,
    };
    return renderConsole(pages, { request, reply }, { ...view, name: 'accounts', data: { title: 'Accounts', q, table } });
  });

  const scopeOf = async (request: FastifyRequest) => {
    const { id } = request.params as { id: string };
    if (!isUuid(id)) throw Errors.accountNotFound();
    return adminAccountScope(ctx, pageAdmin(request), id);
  };

  app.get('/admin/accounts/:id', { schema: { hide: true } }, async (request, reply) => {
    const scope = await scopeOf(request).catch(() => undefined);
    if (!scope) return renderConsole(pages, { request, reply }, { ...view, name: 'not-found', data: { title: 'Account not found', message: 'There is no account with this id.' }, status: 404 });
    const [{ account, members }, domains, connections, policy, tokens] = await Promise.all([
      accountForAdmin(ctx, scope.accountId),
      listAccountDomains(ctx, scope),
      listAccountConnections(ctx, scope),
      getPolicy(ctx, scope),
      listScopedScimTokens(ctx, scope),
    ]);
    const tables = {
      members: {
        id: 'members', caption: 'Members', columns: ['Email', 'Name', 'Role', 'Status'],
        rows: members.map((m) => [{ text: m.email, href: `/ui/admin/users/${m.id}` }, m.name, m.account_role, m.is_active ? { text: 'Active', badge: 'ok' } : { text: 'Deactivated', badge: 'off' }]),
      },
      domains: {
        id: 'domains', caption: 'Domains', columns: ['Domain', 'Status', 'Added'],
        rows: domains.map((d) => [d.domain, d.verified_at ? { text: 'Verified', badge: 'ok' } : { text: 'Not verified', badge: 'warn' }, when(d.created_at)]),
        empty: 'No domains.',
      },
      connections: {
        id: 'connections', caption: 'SSO connections', columns: ['Name', 'Type', 'Status', 'Created'],
        rows: connections.map((c) => [c.name, c.type.toUpperCase(), c.enabled ? { text: 'Enabled', badge: 'ok' } : { text: 'Disabled', badge: 'off' }, when(c.created_at)]),
        empty: 'No SSO connections.',
      },
      tokens: {
        id: 'tokens', caption: 'SCIM tokens', columns: ['Description', 'Created', 'Last used', 'Action'],
        rows: tokens.map((tk) => [tk.description ?? '(no description)', when(tk.created_at), when(tk.last_used_at), { text: 'Revoke', href: `${accountPath(scope.accountId)}/scim-tokens/${tk.id}/revoke` }]),
        empty: 'No SCIM tokens.',
      },
    };
    return renderConsole(pages, { request, reply }, { ...view, name: 'account', data: { title: account.name, account, policy, tables } });
  });

  confirmRoute(app, pages, {
    ...view,
    path: '/admin/accounts/:id/scim-tokens/:token/revoke',
    async describe(request) {
      const scope = await scopeOf(request).catch(() => undefined);
      const { token } = request.params as { token: string };
      const row = scope && (await listScopedScimTokens(ctx, scope)).find((tk) => tk.id === token);
      return row && {
        title: 'Revoke SCIM token',
        message: `The directory using “${row.description ?? 'this token'}” can no longer provision this account's users. This cannot be undone.`,
        action: `${accountPath(scope.accountId)}/scim-tokens/${row.id}/revoke`,
        button: 'Revoke token',
        cancel: accountPath(scope.accountId),
        danger: true,
      };
    },
  });
  app.post('/admin/accounts/:id/scim-tokens/:token/revoke', { schema: { hide: true } }, async (request, reply) => {
    const scope = await scopeOf(request);
    const { token } = request.params as { token: string };
    try {
      if (!isUuid(token)) throw Errors.scimTokenNotFound();
      await revokeScopedScimToken(ctx, { scope, id: token, meta: consoleMeta(request) });
      return done(pages, reply, { location: accountPath(scope.accountId), notice: 'The SCIM token was revoked.' });
    } catch (err) {
      return refused(pages, reply, { location: accountPath(scope.accountId), err });
    }
  });
}
