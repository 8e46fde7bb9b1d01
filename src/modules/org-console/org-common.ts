// What the organization console's pages (/ui/account/organization, org-*.ts) share: who may
// open them (the account's owner and admins; a member gets a 403 page), the console's layout
// and navigation (console-kit.ts, views/console/), the audit origin (`via: 'console'`), the
// confirmation step before a destructive action, and the rule that an id outside the caller's
// account is a 404 page, never a message on another page.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../lib/errors.js';
import { ownAccountScope, type AccountScope } from '../accounts/account-scope.js';
import { type ConsoleNav } from '../console/console-kit.js';
import { when } from '../console/console-format.js';
import type { PageContext } from '../hosted-ui/page-context.js';
import type { PageSessionUser } from '../hosted-ui/page-sessions.repo.js';
import { redirectWithError, redirectWithState, type PageState } from '../hosted-ui/page-state.js';

export { consoleMeta } from '../console/console-kit.js';

export const ORG = '/ui/account/organization';

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The console's sub-pages, in the order of its navigation. */
export const ORG_NAV: ConsoleNav = {
  label: 'Organization',
  items: [
    { href: ORG, label: 'Members' },
    { href: `${ORG}/domains`, label: 'Domains' },
    { href: `${ORG}/sso`, label: 'Single sign-on' },
    { href: `${ORG}/scim`, label: 'SCIM provisioning' },
  ],
};

export interface OrgActor {
  user: PageSessionUser;
  scope: AccountScope;
}

export interface ConfirmStep {
  /** The nav item (its href) the step belongs to. */
  current: string;
  title: string;
  /** What will happen, in a sentence or two. */
  message: string;
  action: string;
  button: string;
  cancel: string;
  /** Hidden fields posted with the confirmation (a form's choices carried over). */
  fields?: Record<string, string>;
}

export interface OrgPage {
  /** The nav item (its href) the page belongs to. */
  current: string;
  /** A template under views/org-console/. */
  view: string;
  data: Record<string, unknown> & { title: string };
  status?: number;
}

export interface OrgPages extends PageContext {
  /**
   * The signed-in owner or admin, or undefined when the reply is already decided: a redirect to
   * sign in (coming back here), or the 403 page for anyone else.
   */
  actor(request: FastifyRequest, reply: FastifyReply): Promise<OrgActor | undefined>;
  /** Renders views/org-console/<view> in the console's layout, `current` marked in its navigation. */
  page(request: FastifyRequest, reply: FastifyReply, page: OrgPage): Promise<FastifyReply>;
  /** The confirmation step of a destructive action: a page whose one form posts to `action`. */
  confirm(request: FastifyRequest, reply: FastifyReply, step: ConfirmStep): Promise<FastifyReply>;
  /** Back to `location` with a notice for `form`. */
  done(reply: FastifyReply, location: string, message: { form: string; notice: string }): FastifyReply;
  /** A refusal: an unknown id (another account's too) is the 404 page; anything else goes back to `location` with the API's message. */
  refuse(reply: FastifyReply, err: unknown, back: Omit<PageState, 'message' | 'errors'> & { location: string }): FastifyReply;
}

export function orgPages(pages: PageContext): OrgPages {
  const { render, secure } = pages;
  const page: OrgPages['page'] = (request, reply, { current, view, data, status }) =>
    render(request, reply, { view: `org-console/${view}`, data: { ...data, nav: ORG_NAV, current, when }, status });
  return {
    ...pages,
    page,
    async actor(request, reply) {
      const user = request.pageUser;
      if (!user) {
        // Sign-in comes back to the page asked for (a GET), else to the console's start.
        const path = request.method === 'GET' ? request.url.split('?')[0]! : ORG;
        void reply.code(303).redirect(`/ui/sign-in?next=${path}`);
        return undefined;
      }
      if (user.account_role !== 'owner' && user.account_role !== 'admin') {
        await render(request, reply, { view: 'console/forbidden', data: {
          title: 'You cannot open this page',
          message: 'Only the owner and the admins of your organization can manage it. Ask one of them if you need access.',
        }, status: 403 });
        return undefined;
      }
      return { user, scope: ownAccountScope(user) };
    },
    confirm: (request, reply, step) =>
      page(request, reply, { current: step.current, view: 'confirm', data: { title: step.title, confirmation: { ...step, danger: true }, fields: step.fields ?? {} } }),
    done: (reply, location, { form, notice }) => redirectWithState(reply, { location, state: { form, notice }, secure }),
    refuse(reply, err, { location, ...state }) {
      if (err instanceof AppError && err.statusCode === 404) throw err;
      return redirectWithError(reply, { location, err, state, secure });
    },
  };
}
