// What every console page shares: the guard (platform admins only), the audit origin of its
// changes, the post-redirect-get answer, the confirmation step and the keyset pager. Generic
// on purpose: the account owners' console (/ui/account/organization) reuses it with its own
// guard and navigation.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RequestMeta } from '../../context.js';
import { requestMeta } from '../../plugins/authenticate.js';
import type { PageContext, PageData } from '../hosted-ui/page-context.js';
import type { PageSessionUser } from '../hosted-ui/page-sessions.repo.js';
import { redirectWithError, redirectWithState, type PageState } from '../hosted-ui/page-state.js';
import { when } from './console-format.js';

export interface NavItem {
  href: string;
  label: string;
}

/** The console's navigation, shown by views/console/layout.eta (`current` marks the page's). */
export interface ConsoleNav {
  label: string;
  items: readonly NavItem[];
}

/** A request's meta with the console as its origin: every audit row it leads to says `via: console`. */
export const consoleMeta = (request: FastifyRequest): RequestMeta => ({ ...requestMeta(request), via: 'console' });

/** The page's admin: only set once the guard (adminGuard) has let the request through. */
export function pageAdmin(request: FastifyRequest): PageSessionUser {
  if (!request.pageUser) throw new Error('a console route ran without its guard');
  return request.pageUser;
}

/**
 * An onRequest hook for a group of console pages: signed out → the sign-in page, coming back
 * here afterwards; signed in without `allowed` → a 403 page (nothing of the console shown).
 */
export function consoleGuard(pages: PageContext, allowed: (user: PageSessionUser) => boolean) {
  return async function guard(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    const user = request.pageUser;
    if (!user) {
      const path = request.method === 'GET' ? request.url.split('?')[0]! : '/ui/admin';
      return reply.code(303).redirect(`/ui/sign-in?next=${encodeURIComponent(path)}`);
    }
    if (allowed(user)) return undefined;
    return pages.render(request, reply, { view: 'console/forbidden', data: {
      title: 'You cannot open this page',
      message: 'This page is for administrators. Ask an administrator if you need access.',
    }, status: 403 });
  };
}

export interface ConsoleView {
  nav: ConsoleNav;
  /** The nav item's href this page belongs to. */
  current: string;
}

/** Renders a console page inside views/console/layout.eta. */
export function renderConsole(
  pages: PageContext,
  { request, reply }: { request: FastifyRequest; reply: FastifyReply },
  view: ConsoleView & { name: string; data: PageData; status?: number },
) {
  return pages.render(request, reply, { view: `console/${view.name}`, data: { ...view.data, nav: view.nav, current: view.current, when }, status: view.status });
}

/** Back to `location` with `notice` (for the form `form`, when the page has several). */
export interface Done {
  location: string;
  notice: string;
  form?: string;
}

/** After a form: back to a page with a notice (post-redirect-get). */
export const done = (pages: PageContext, reply: FastifyReply, { location, notice, form }: Done) =>
  redirectWithState(reply, { location, state: { notice, form }, secure: pages.secure });

/** Back to `location` with the service's refusal `err`, and `state` (e.g. what was typed). */
export interface Refused {
  location: string;
  err: unknown;
  state?: Omit<PageState, 'message' | 'errors'>;
}

/** After a refused form: back with the service's message (anything not an AppError is rethrown). */
export const refused = (pages: PageContext, reply: FastifyReply, { location, err, state = {} }: Refused) =>
  redirectWithError(reply, { location, err, state, secure: pages.secure });

export interface Confirmation {
  title: string;
  /** What will happen, in a sentence or two. */
  message: string;
  /** Where the form posts. */
  action: string;
  button: string;
  cancel: string;
  /** A red button: the action cannot be undone. */
  danger?: boolean;
}

/**
 * The confirmation step of a destructive action: a GET page whose one form posts to the
 * action (works without script, by keyboard, and a bookmarked or prefetched link changes
 * nothing). `describe` returns undefined when the thing is gone (a 404 page).
 */
export function confirmRoute(
  app: FastifyInstance,
  pages: PageContext,
  view: ConsoleView & { path: string; describe(request: FastifyRequest): Promise<Confirmation | undefined> },
): void {
  app.get(view.path, { schema: { hide: true } }, async (request, reply) => {
    const confirmation = await view.describe(request);
    if (!confirmation) return renderConsole(pages, { request, reply }, { ...view, name: 'not-found', data: { title: 'Not found', message: 'It may have been deleted.' }, status: 404 });
    return renderConsole(pages, { request, reply }, { ...view, name: 'confirm', data: { ...confirmation, confirmation } });
  });
}

export interface Page<T> {
  rows: T[];
  /** The cursor of the next page, when there is one. */
  next?: string;
}

/**
 * Keyset paging: the service is asked for one row more than the page shows; if it comes, the
 * last shown row's cursor is the next page's `after`. No OFFSET, so page 10,000 costs what
 * page 1 does.
 */
export async function keysetPage<T>(limit: number, fetch: (limit: number) => Promise<T[]>, cursor: (row: T) => string): Promise<Page<T>> {
  const rows = await fetch(limit + 1);
  if (rows.length <= limit) return { rows };
  const shown = rows.slice(0, limit);
  return { rows: shown, next: cursor(shown.at(-1)!) };
}

/** A page's address with its query (empty values left out). */
export function pageUrl(path: string, query: Record<string, string | undefined>): string {
  const params = new URLSearchParams(Object.entries(query).filter((entry): entry is [string, string] => Boolean(entry[1])));
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

/** A query-string field as text ('' when absent or not a string). */
export const queryText = (query: unknown, name: string): string => {
  const value = (query as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' ? value.trim().slice(0, 200) : '';
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Whether a path's id can name a row (anything else is a 404 page, not a database error). */
export const isUuid = (value: string): boolean => UUID.test(value);
