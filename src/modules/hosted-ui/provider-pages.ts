// The OpenID Provider's own pages (the device flow's code entry, confirmation and success;
// RP-initiated logout's confirmation and farewell) drawn with the hosted pages' templates,
// layout, stylesheet and Content-Security-Policy, outside Fastify: oidc-provider serves them
// from its Koa handler (oidc-provider/page-sources.ts), and checks their forms with its own
// xsrf token bound to its session cookie.
import { Eta } from 'eta';
import type { AppContext } from '../../context.js';
import type { ProviderPages } from '../oidc-provider/provider-types.js';
import { VIEWS_DIR } from './hosted-ui.plugin.js';
import { pagePolicy } from './page-policy.js';

export function providerPages(ctx: Pick<AppContext, 'config'>): ProviderPages {
  const ui = ctx.config.hostedUi;
  const eta = new Eta({ views: VIEWS_DIR, cache: true, autoEscape: true });
  return {
    async render(view, data, formTarget) {
      const html = await eta.renderAsync(view, { brand: { name: ui.brandName, logoUrl: ui.logoUrl }, user: undefined, state: {}, ...data });
      return { html, policy: pagePolicy(ui.logoUrl, formTarget) };
    },
  };
}
