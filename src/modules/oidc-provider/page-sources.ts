// The provider's own pages, in the hosted pages' look (API.md: "device-code entry and logout
// pages in the hosted pages"): oidc-provider calls these "sources" to draw the device flow's
// code entry (RFC 8628 verification_uri), its confirmation and success, RP-initiated logout's
// confirmation and farewell, and its error page. Each form keeps the provider's own xsrf token
// (bound to the provider's session cookie), read out of the form the provider hands over; the
// pages are drawn by ProviderPages (modules/hosted-ui/provider-pages.ts).
import type { ProviderClient, ProviderPages } from './provider-types.js';

interface PageCtx {
  type: string;
  body: unknown;
  set(name: string, value: string): void;
  oidc: { client?: ProviderClient; session?: { state?: { postLogoutRedirectUri?: string } } };
}

/** What the provider's form carries: where it posts and its xsrf token. */
function formOf(html: string): { action: string; xsrf: string } {
  return {
    action: /action="([^"]+)"/.exec(html)?.[1] ?? '',
    xsrf: /name="xsrf" value="([^"]*)"/.exec(html)?.[1] ?? '',
  };
}

const clientName = (client: ProviderClient | undefined): string | undefined =>
  client ? String(client.clientName ?? client.clientId) : undefined;

export function pageSources(pages: ProviderPages) {
  const draw = async (ctx: PageCtx, { view, data, formTarget }: { view: string; data: { title: string; [key: string]: unknown }; formTarget?: string }) => {
    const { html, policy } = await pages.render(view, data, formTarget);
    ctx.type = 'html';
    ctx.set('content-security-policy', policy);
    ctx.body = html;
  };
  return {
    deviceFlow: {
      async userCodeInputSource(ctx: PageCtx, form: string, out: unknown, err?: { name?: string; userCode?: string }) {
        let message: string | undefined;
        let fieldError: string | undefined;
        if (err && (err.userCode || err.name === 'NoCodeError')) fieldError = 'That code is not right, or it expired. Check the code on your device and try again.';
        else if (err?.name === 'AbortedError') message = 'The request was cancelled. Start again on your device.';
        else if (err) message = 'The code could not be checked. Start again on your device.';
        await draw(ctx, { view: 'device-code', data: { title: 'Connect a device', ...formOf(form), code: err?.userCode, message, fieldError } });
      },
      async userCodeConfirmSource(ctx: PageCtx, form: string, client: ProviderClient, _deviceInfo: unknown, userCode: string) {
        await draw(ctx, { view: 'device-confirm', data: { title: 'Confirm the device', ...formOf(form), clientName: clientName(client), userCode } });
      },
      async successSource(ctx: PageCtx) {
        await draw(ctx, { view: 'device-done', data: { title: 'Device connected', clientName: clientName(ctx.oidc.client) } });
      },
    },
    rpInitiatedLogout: {
      async logoutSource(ctx: PageCtx, form: string) {
        // After "Yes", the provider redirects the form's post to the client's registered
        // post_logout_redirect_uri: that origin joins the page's form-action.
        const target = ctx.oidc.session?.state?.postLogoutRedirectUri;
        const url = target && URL.canParse(target) ? new URL(target) : undefined;
        const formTarget = url && (url.protocol === 'https:' || url.protocol === 'http:' ? url.origin : url.protocol);
        await draw(ctx, { view: 'sign-out-confirm', data: { title: 'Sign out', ...formOf(form), clientName: clientName(ctx.oidc.client) }, formTarget });
      },
      async postLogoutSuccessSource(ctx: PageCtx) {
        await draw(ctx, { view: 'signed-out', data: { title: 'Signed out', clientName: clientName(ctx.oidc.client) } });
      },
    },
    async renderError(ctx: PageCtx, out: { error: string; error_description?: string }) {
      const message = `${out.error}${out.error_description ? `: ${out.error_description}` : ''}`;
      await draw(ctx, { view: 'error', data: { title: 'Sign-in could not continue', message } });
    },
  };
}
