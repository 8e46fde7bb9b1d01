// What the hosted pages' modules share: the page context the plugin (hosted-ui.plugin.ts)
// builds and hands to each group of pages (PageGroup: the consoles are groups too), and the
// account page's section contract. Types only, so that the plugin imports the pages and the
// pages import nothing back.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../../context.js';
import type { PageSessionUser } from './page-sessions.repo.js';

/** What every template gets. */
export interface PageData {
  title: string;
  [key: string]: unknown;
}

/** A page to draw: `view` names a template (a bare name is under views/hosted-ui/); `status` is 200 unless given. */
export interface PageView {
  view: string;
  data: PageData;
  status?: number;
}

export type RenderPage = (request: FastifyRequest, reply: FastifyReply, page: PageView) => Promise<FastifyReply>;

export interface PageContext {
  ctx: AppContext;
  render: RenderPage;
  /** Whether cookies carry Secure (everything but plain-HTTP loopback). */
  secure: boolean;
  /** Whether the pages offer passkeys (passkeysOffered: fixed by the config, so worked out once). */
  passkeys: boolean;
}

/** A group of pages the plugin registers on its instance (with its cookies, CSRF check, templates
 *  and error pages): each of the hosted pages' own, and the consoles (modules/console,
 *  modules/org-console), which src/hosted-ui-wiring.ts hands to the plugin. */
export type PageGroup = (app: FastifyInstance, pages: PageContext) => Promise<void>;

export interface AccountSection {
  id: string;
  view: string;
  load(ctx: AppContext, user: PageSessionUser, request: FastifyRequest): Promise<Record<string, unknown>>;
  register?(app: FastifyInstance, pages: PageContext): Promise<void>;
}

