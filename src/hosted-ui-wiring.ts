// The composition of the hosted pages (HOSTED_UI_ENABLED): the pages' plugin (modules/hosted-ui:
// page context, sessions, state, the sign-in and account pages) with the two consoles built on it,
// the customer admin's (modules/org-console, /ui/account/organization) and the platform admins'
// (modules/console, /ui/admin). Wired here, above all three, so the pages' module imports neither
// console; app.ts loads this file only when the pages are on.
import type { FastifyInstance } from 'fastify';
import type { AppContext } from './context.js';
import { consolePages } from './modules/console/console.plugin.js';
import { hostedUiPlugin } from './modules/hosted-ui/hosted-ui.plugin.js';
import type { ProviderHandle } from './modules/oidc-provider/oidc.plugin.js';
import { organizationPages } from './modules/org-console/org-pages.js';

/** Registers the hosted pages under /ui, the consoles with them (sharing their session cookie,
 *  CSRF check, templates and error pages). */
export async function registerHostedPages(app: FastifyInstance, { ctx, oidcProvider }: { ctx: AppContext; oidcProvider?: ProviderHandle }): Promise<void> {
  await app.register(hostedUiPlugin, { ctx, prefix: '/ui', oidcProvider, consoles: [organizationPages, consolePages] });
}
