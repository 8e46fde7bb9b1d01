// The account page's "Apps with access": the clients the user consented to (name, logo,
// scopes, when granted, last use), each with a revoke step behind a confirmation, through the
// service behind GET /auth/me/apps and DELETE /auth/me/apps/{client_id}. Only with the OpenID
// provider on, as those routes.
import { Errors } from '../../lib/errors.js';
import { requestMeta } from '../../plugins/authenticate.js';
import { listApps, revokeApp } from '../oidc-provider/apps.service.js';
import { shortTime } from './device-sections.js';
import { httpsOrigin } from './page-policy.js';
import type { AccountSection } from './page-context.js';
import { signedInUser } from './page-session.js';
import { redirectWithError, redirectWithState } from './page-state.js';

const CLIENT_ID = /^[\w.~-]{1,100}$/;

/** What each scope lets an app see, in words. */
const SCOPE_TEXT: Record<string, string> = {
  openid: 'Know who you are',
  profile: 'Your name and time zone',
  email: 'Your email address',
  account: 'Your organization and role',
  offline_access: 'Stay signed in when you are away',
};

export const appsSection: AccountSection = {
  id: 'apps',
  view: 'apps',
  async load(ctx, user) {
    if (!ctx.config.oidcProvider.enabled) return { apps: null };
    const apps = (await listApps(ctx, user.id)).map((app) => ({ ...app, logoOrigin: httpsOrigin(app.logo_uri) }));
    return {
      imageOrigins: apps.flatMap((app) => (app.logoOrigin ? [app.logoOrigin] : [])),
      apps: apps.map((app) => ({
        ...app,
        // Only an https logo is shown (the page's policy admits its origin).
        logo_uri: app.logoOrigin ? app.logo_uri : undefined,
        scopeText: app.scopes.map((scope) => SCOPE_TEXT[scope] ?? scope),
        granted: shortTime(new Date(app.granted_at)),
        lastUsed: shortTime(new Date(app.last_used_at)),
      })),
    };
  },
  async register(app, pages) {
    const { ctx, render, secure } = pages;
    if (!ctx.config.oidcProvider.enabled) return;
    const clientIdOf = (params: unknown): string => {
      const id = (params as { client_id?: string }).client_id ?? '';
      if (!CLIENT_ID.test(id)) throw Errors.appNotFound();
      return id;
    };

    app.get('/account/apps/:client_id/revoke', { schema: { hide: true } }, async (request, reply) => {
      const user = signedInUser(request, reply);
      if (!user) return reply;
      const clientId = clientIdOf(request.params);
      const found = (await listApps(ctx, user.id)).find((row) => row.client_id === clientId);
      if (!found) throw Errors.appNotFound();
      return render(request, reply, { view: 'confirm', data: {
        title: `Stop ${found.name} from using your account?`,
        confirmation: {
          message: `${found.name} is signed out and can no longer read your information. If you sign in to it again, it asks for your permission again.`,
          action: `/ui/account/apps/${encodeURIComponent(clientId)}/revoke`,
          button: 'Remove access',
          cancel: '/ui/account#apps',
          danger: true,
        },
      } });
    });

    app.post('/account/apps/:client_id/revoke', { schema: { hide: true } }, async (request, reply) => {
      const user = signedInUser(request, reply);
      if (!user) return reply;
      const clientId = clientIdOf(request.params);
      try {
        await revokeApp(ctx, { userId: user.id, clientId, meta: requestMeta(request) });
        return redirectWithState(reply, { location: '/ui/account#apps', state: { form: 'apps', notice: 'The app no longer has access to your account.' }, secure });
      } catch (err) {
        if (err instanceof Error && 'statusCode' in err && err.statusCode === 404) throw err;
        return redirectWithError(reply, { location: '/ui/account#apps', err, state: { form: 'apps' }, secure });
      }
    });
  },
};
