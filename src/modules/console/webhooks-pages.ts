// /ui/admin/webhooks: the endpoints, adding one (its signing secret shown once), its recent
// deliveries, a test event, rotating its secret (shown once) and deleting it: the admin API's
// webhook service functions, with the console as origin.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Errors } from '../../lib/errors.js';
import type { PageContext } from '../hosted-ui/page-context.js';
import { checkForm, formField, type FormBody } from '../hosted-ui/form-validation.js';
import { redirectWithState } from '../hosted-ui/page-state.js';
import { CreateWebhookBody } from '../webhooks/webhooks.schemas.js';
import { createWebhook, deleteWebhook, getWebhook, listWebhookDeliveries, listWebhooks, rotateWebhookSecret, sendTestEvent, SUBSCRIBABLE_EVENTS } from '../webhooks/webhooks.service.js';
import { ADMIN_NAV } from './admin-nav.js';
import { confirmRoute, consoleMeta, done, isUuid, pageAdmin, refused, renderConsole } from './console-kit.js';
import { when } from './console-format.js';

const view = { nav: ADMIN_NAV, current: '/ui/admin/webhooks' };
const DELIVERIES_SHOWN = 50;
const STATUS_BADGE = { succeeded: 'ok', pending: 'warn', failed: 'off' } as const;
const hookPath = (id: string) => `/ui/admin/webhooks/${id}`;

async function endpointOf(pages: PageContext, request: FastifyRequest) {
  const { id } = request.params as { id: string };
  return isUuid(id) ? getWebhook(pages.ctx, id).catch(() => undefined) : undefined;
}

/** The checked event types of the form (none: every event). */
function formEvents(body: unknown): string[] {
  const value = (body as FormBody | undefined)?.events;
  return (Array.isArray(value) ? value : value ? [value] : []).filter((v): v is string => typeof v === 'string');
}

export async function webhooksPages(app: FastifyInstance, pages: PageContext): Promise<void> {
  const { ctx } = pages;
  const showSecret = (request: FastifyRequest, reply: FastifyReply, input: { title: string; message: string; id: string; secret: string }) =>
    renderConsole(pages, { request, reply }, {
      ...view,
      name: 'secret',
      data: { title: input.title, message: input.message, secret: { id: 'webhook', label: 'Signing secret', value: input.secret }, next: { href: hookPath(input.id), label: 'Go to the webhook' } },
    });

  app.get('/admin/webhooks', { schema: { hide: true } }, async (request, reply) => {
    const endpoints = await listWebhooks(ctx);
    const table = {
      id: 'webhooks',
      caption: 'Webhook endpoints',
      columns: ['URL', 'Events', 'Status', 'Created'],
      rows: endpoints.map((e) => [
        { text: e.url, href: hookPath(e.id), hint: e.description ?? undefined, long: true },
        e.events ? e.events.join(', ') : 'Every event',
        e.enabled ? { text: 'Enabled', badge: 'ok' } : { text: 'Disabled', badge: 'off' },
        when(e.created_at),
      ]),
      empty: 'No webhooks yet.',
    };
    return renderConsole(pages, { request, reply }, { ...view, name: 'webhooks', data: { title: 'Webhooks', table } });
  });

  app.get('/admin/webhooks/new', { schema: { hide: true } }, async (request, reply) =>
    renderConsole(pages, { request, reply }, { ...view, name: 'webhook-new', data: { title: 'Add a webhook', events: SUBSCRIBABLE_EVENTS } }));

  app.post('/admin/webhooks', { schema: { hide: true } }, async (request, reply) => {
    const values = { url: formField(request.body, 'url'), description: formField(request.body, 'description') };
    const events = formEvents(request.body);
    const input = { url: values.url, description: values.description || null, events: events.length > 0 ? events : null };
    const errors = checkForm(CreateWebhookBody, input);
    if (Object.keys(errors).length > 0) return redirectWithState(reply, { location: '/ui/admin/webhooks/new', state: { values, errors }, secure: pages.secure });
    try {
      const { endpoint, secret } = await createWebhook(ctx, { adminId: pageAdmin(request).id, input, meta: consoleMeta(request) });
      return showSecret(request, reply, { title: 'Webhook added', message: `Keyhold signs every delivery to ${endpoint.url} with this secret. Store it where your receiver can read it.`, id: endpoint.id, secret });
    } catch (err) {
      return refused(pages, reply, { location: '/ui/admin/webhooks/new', err, state: { values } });
    }
  });

  app.get('/admin/webhooks/:id', { schema: { hide: true } }, async (request, reply) => {
    const endpoint = await endpointOf(pages, request);
    if (!endpoint) return renderConsole(pages, { request, reply }, { ...view, name: 'not-found', data: { title: 'Webhook not found', message: 'It may have been deleted.' }, status: 404 });
    const deliveries = await listWebhookDeliveries(ctx, endpoint.id, { limit: DELIVERIES_SHOWN });
    const table = {
      id: 'deliveries',
      caption: `The latest ${DELIVERIES_SHOWN} deliveries`,
      columns: ['Event', 'Status', 'Attempts', 'Response', 'Queued', 'Finished'],
      rows: deliveries.map((d) => [
        { text: d.type, code: true, nowrap: true },
        { text: d.status, badge: STATUS_BADGE[d.status] },
        String(d.attempts),
        d.response_status ? `HTTP ${d.response_status}${d.duration_ms !== null ? ` in ${d.duration_ms} ms` : ''}` : d.error ?? '—',
        when(d.created_at),
        when(d.finished_at),
      ]),
      empty: 'Nothing delivered yet. Send a test event to try the endpoint.',
    };
    return renderConsole(pages, { request, reply }, { ...view, name: 'webhook', data: { title: 'Webhook', endpoint, table } });
  });

  app.post('/admin/webhooks/:id/test', { schema: { hide: true } }, async (request, reply) => {
    const { id } = request.params as { id: string };
    if (!isUuid(id)) throw Errors.webhookNotFound();
    try {
      await sendTestEvent(ctx, { adminId: pageAdmin(request).id, id, meta: consoleMeta(request) });
      return done(pages, reply, { location: hookPath(id), notice: 'A test event is on its way. Reload to see how it went.' });
    } catch (err) {
      return refused(pages, reply, { location: hookPath(id), err });
    }
  });

  confirmRoute(app, pages, {
    ...view,
    path: '/admin/webhooks/:id/rotate-secret',
    async describe(request) {
      const endpoint = await endpointOf(pages, request);
      return endpoint && {
        title: 'Rotate the signing secret',
        message: `A new secret signs deliveries to ${endpoint.url} from now on. The old one is sent alongside for 24 hours, so the receiver can switch over.`,
        action: `${hookPath(endpoint.id)}/rotate-secret`,
        button: 'Rotate secret',
        cancel: hookPath(endpoint.id),
      };
    },
  });
  app.post('/admin/webhooks/:id/rotate-secret', { schema: { hide: true } }, async (request, reply) => {
    const { id } = request.params as { id: string };
    if (!isUuid(id)) throw Errors.webhookNotFound();
    try {
      const { endpoint, secret } = await rotateWebhookSecret(ctx, { adminId: pageAdmin(request).id, id, meta: consoleMeta(request) });
      return showSecret(request, reply, { title: 'New signing secret', message: `Deliveries to ${endpoint.url} are signed with this secret from now on.`, id, secret });
    } catch (err) {
      return refused(pages, reply, { location: hookPath(id), err });
    }
  });

  confirmRoute(app, pages, {
    ...view,
    path: '/admin/webhooks/:id/delete',
    async describe(request) {
      const endpoint = await endpointOf(pages, request);
      return endpoint && {
        title: 'Delete webhook',
        message: `Nothing more is sent to ${endpoint.url}, and its delivery log is deleted. This cannot be undone.`,
        action: `${hookPath(endpoint.id)}/delete`,
        button: 'Delete webhook',
        cancel: hookPath(endpoint.id),
        danger: true,
      };
    },
  });
  app.post('/admin/webhooks/:id/delete', { schema: { hide: true } }, async (request, reply) => {
    const { id } = request.params as { id: string };
    if (!isUuid(id)) throw Errors.webhookNotFound();
    try {
      await deleteWebhook(ctx, { adminId: pageAdmin(request).id, id, meta: consoleMeta(request) });
      return done(pages, reply, { location: '/ui/admin/webhooks', notice: 'The webhook was deleted.' });
    } catch (err) {
      return refused(pages, reply, { location: hookPath(id), err });
    }
  });
}
