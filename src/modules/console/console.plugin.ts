// /ui/admin: the platform admins' console (HOSTED_UI_ENABLED), registered on the hosted pages'
// plugin (src/hosted-ui-wiring.ts) so it shares their session cookie, CSRF check, templates and error pages. Each page
// group calls the service functions the admin API calls (same rules, same audit rows, and
// `via: console` on those rows: consoleMeta).
import type { FastifyInstance } from 'fastify';
import type { PageContext } from '../hosted-ui/page-context.js';
import { accountsPages } from './accounts-pages.js';
import { auditPages } from './audit-pages.js';
import { clientsPages } from './clients-pages.js';
import { invitesAndSettingsPages } from './invites-settings-pages.js';
import { consoleGuard } from './console-kit.js';
import { keysPages } from './keys-pages.js';
import { usersPages } from './users-pages.js';
import { webhooksPages } from './webhooks-pages.js';

export async function consolePages(app: FastifyInstance, pages: PageContext): Promise<void> {
  await app.register(async (admin) => {
    // One hook for the whole group: a page added later cannot forget the guard. The role is
    // read from the users row with the page session, on every request (a demoted admin is
    // refused at once), as requireAdmin does for the API.
    admin.addHook('onRequest', consoleGuard(pages, (user) => user.role === 'admin'));
    admin.get('/admin', { schema: { hide: true } }, async (_request, reply) => reply.redirect('/ui/admin/users'));
    await usersPages(admin, pages);
    await auditPages(admin, pages);
    await webhooksPages(admin, pages);
    await keysPages(admin, pages);
    await accountsPages(admin, pages);
    await clientsPages(admin, pages);
    await invitesAndSettingsPages(admin, pages);
  });
}
