// What the organization console's pages (/ui/account/organization, org-*.ts) share: who may
// open them (the account's owner and admins; a member gets a 403 page), the audit origin
// (`via: 'console'`), the confirmation step before a destructive action, and the rule that an
// id outside the caller's account is a 404 page, never a message on another page.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RequestMeta } from '../../context.js';
import { AppError } from '../../lib/errors.js';
import { requestMeta } from '../../plugins/authenticate.js';
import { ownAccountScope, type AccountScope } from '../accounts/account-scope.js';
import type { PageContext } from './page-context.js';
import type { PageSessionUser } from './page-sessions.repo.js';
import { redirectWithError, redirectWithState, type PageState } from './page-state.js';

export const ORG = '/ui/account/organization';

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The console's sub-pages, in the order of its navigation. */
export const ORG_NAV = [
  { id: 'members', label: 'Members', href: ORG },
  { id: 'domains', label: 'Domains', href: `${ORG}/domains` },
  { id: 'sso', label: 'Single sign-on', href: `${ORG}/sso` },
  { id: 'scim', label: 'SCIM provisioning', href: `${ORG}/scim` },
] as const;
export type OrgSection = (typeof ORG_NAV)[number]['id'];

/** Every change made here is audited as the API's, with details.via = 'console'. */
export const consoleMeta = (request: FastifyRequest): RequestMeta => ({ ...requestMeta(request), via: 'console' });

export interface OrgActor {
  user: PageSessionUser;
  scope: AccountScope;
}

export interface OrgPages extends PageContext {
  /**
   * The signed-in owner or admin, or undefined when the reply is already decided: a redirect to
   * sign in (coming back here), or the 403 page for anyone else.
   */
  actor(request: FastifyRequest, reply: FastifyReply): Promise<OrgActor | undefined>;
  /** Renders a page of the console with its navigation (`section` marked current). */
  page(request: FastifyRequest, reply: FastifyReply, section: OrgSection, view: string, data: Record<string, unknown> & { title: string }, status?: number): Promise<FastifyReply>;
  /** The confirmation step of a destructive action: a page whose one form posts to `action`. */
  confirm(request: FastifyRequest, reply: FastifyReply, step: ConfirmStep): Promise<FastifyReply>;
  /** Back to `location` with a notice for `form`. */
  done(reply: FastifyReply, location: string, form: string, notice: string): FastifyReply;
  /** A refusal: an unknown id (another account's too) is the 404 page; anything else goes back to `location` with the API's message. */
  refuse(reply: FastifyReply, location: string, err: unknown, state: Omit<PageState, 'message' | 'errors'>): FastifyReply;
}

export interface ConfirmStep {
  section: OrgSection;
  title: string;
  /** What will happen, in a sentence or two. */
  consequence: string;
  action: string;
  button: string;
  cancel: string;
  /** Extra hidden fields posted with the confirmation. */
  fields?: Record<string, string>;
}

export function orgPages(pages: PageContext): OrgPages {
  const { render, secure } = pages;
  const page: OrgPages['page'] = (request, reply, section, view, data, status) =>
    render(request, reply, view, { ...data, wide: true, orgNav: ORG_NAV, orgSection: section }, status);
  return {
    ...pages,
    page,
    async actor(request, reply) {
      const user = request.pageUser;
      if (!user) {
        const path = request.url.split('?')[0]!;
        // Sign-in comes back to the page asked for (a GET), else to the console's start.
        void reply.code(303).redirect(`/ui/sign-in?next=${request.method === 'GET' ? path : ORG}`);
        return undefined;
      }
      if (user.account_role !== 'owner' && user.account_role !== 'admin') {
        await render(request, reply, 'error', { title: 'Not allowed', message: 'Only the owner and the admins of your organization can manage it. Ask one of them for access.' }, 403);
        return undefined;
      }
      return { user, scope: ownAccountScope(user) };
    },
    confirm: (request, reply, step) => page(request, reply, step.section, 'confirm', { title: step.title, step }),
    done: (reply, location, form, notice) => redirectWithState(reply, location, { form, notice }, secure),
    refuse(reply, location, err, state) {
      if (err instanceof AppError && err.statusCode === 404) throw err;
      return redirectWithError(reply, location, err, state, secure);
    },
  };
}
