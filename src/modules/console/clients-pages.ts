// /ui/admin/oauth-clients: the OpenID Provider's clients: list, register one (its secret
// shown once), rotate its secret (shown once), delete it. The admin API's client services;
// every registration field beyond these stays in the API (PATCH /admin/oauth-clients/{id}).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { PageContext } from '../hosted-ui/page-context.js';
import { formField } from '../hosted-ui/form-validation.js';
import { redirectWithState } from '../hosted-ui/page-state.js';
import type { ClientRegistration } from '../oidc-provider/client-metadata.js';
import type { CreateClientBody } from '../oidc-provider/clients.schemas.js';
import { createClient, deleteClient, getClient, listClients, rotateClientSecret } from '../oidc-provider/clients.service.js';
import { ADMIN_NAV } from './admin-nav.js';
import { confirmRoute, consoleMeta, done, pageAdmin, refused, renderConsole } from './console-kit.js';
import { when } from './console-format.js';

const view = { nav: ADMIN_NAV, current: '/ui/admin/oauth-clients' };
const CLIENT_ID = /^[\w.-]{1,100}$/;
const clientPath = (id: string) => `/ui/admin/oauth-clients/${encodeURIComponent(id)}`;

/** What the form's "kind of app" means in registration terms. */
const KINDS = {
  web: { label: 'Web app with a server (authorization code, a client secret)', grant_types: ['authorization_code', 'refresh_token'], token_endpoint_auth_method: 'client_secret_basic' },
  public: { label: 'Single-page or mobile app (authorization code with PKCE, no secret)', grant_types: ['authorization_code', 'refresh_token'], token_endpoint_auth_method: 'none' },
  service: { label: 'Service calling an API (client credentials, a client secret)', grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_basic' },
} as const;
type Kind = keyof typeof KINDS;

const lines = (text: string) => text.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean);

export async function clientsPages(app: FastifyInstance, pages: PageContext): Promise<void> {
  const { ctx } = pages;
  const enabled = ctx.config.oidcProvider.enabled;
  const clientOf = async (request: FastifyRequest) => {
    const { id } = request.params as { id: string };
    return CLIENT_ID.test(id) ? getClient(ctx, id).catch(() => undefined) : undefined;
  };
  const showSecret = (request: FastifyRequest, reply: FastifyReply, input: { title: string; clientId: string; secret: string }) =>
    renderConsole(pages, { request, reply }, {
      ...view,
      name: 'secret',
      data: { title: input.title, message: `The client ${input.clientId} authenticates with this secret.`, secret: { id: 'client', label: 'Client secret', value: input.secret }, next: { href: clientPath(input.clientId), label: 'Go to the client' } },
    });

  app.get('/admin/oauth-clients', { schema: { hide: true } }, async (request, reply) => {
    const clients = enabled ? await listClients(ctx) : [];
    const table = {
      id: 'clients',
      caption: 'OAuth clients',
      columns: ['Name', 'Client id', 'Kind', 'Created'],
      rows: clients.map((c) => {
        const reg = c.metadata as unknown as ClientRegistration;
        return [{ text: c.name, href: clientPath(c.client_id) }, { text: c.client_id, code: true, long: true }, `${reg.grant_types.join(', ')} · ${reg.token_endpoint_auth_method}`, when(c.created_at)];
      }),
      empty: 'No clients yet.',
    };
    return renderConsole(pages, { request, reply }, { ...view, name: 'clients', data: { title: 'OAuth clients', table, enabled } });
  });

  if (!enabled) return;

  app.get('/admin/oauth-clients/new', { schema: { hide: true } }, async (request, reply) =>
    renderConsole(pages, { request, reply }, { ...view, name: 'client-new', data: { title: 'Register a client', kinds: Object.entries(KINDS).map(([value, k]) => ({ value, label: k.label })) } }));

  app.post('/admin/oauth-clients', { schema: { hide: true } }, async (request, reply) => {
    const values = { name: formField(request.body, 'name'), kind: formField(request.body, 'kind'), redirect_uris: formField(request.body, 'redirect_uris'), scopes: formField(request.body, 'scopes') };
    const kind = KINDS[(values.kind in KINDS ? values.kind : 'web') as Kind];
    const input: CreateClientBody = {
      name: values.name,
      grant_types: [...kind.grant_types],
      token_endpoint_auth_method: kind.token_endpoint_auth_method,
      redirect_uris: kind.grant_types.includes('authorization_code' as never) ? lines(values.redirect_uris) : [],
      scopes: lines(values.scopes),
    };
    if (!values.name.trim()) return redirectWithState(reply, { location: '/ui/admin/oauth-clients/new', state: { values, errors: { name: 'Enter a name.' } }, secure: pages.secure });
    try {
      const { client, secret } = await createClient(ctx, { adminId: pageAdmin(request).id, input, meta: consoleMeta(request) });
      if (!secret) return done(pages, reply, { location: clientPath(client.client_id), notice: `Registered ${client.name}. It has no secret: it proves itself with PKCE.` });
      return showSecret(request, reply, { title: 'Client registered', clientId: client.client_id, secret });
    } catch (err) {
      return refused(pages, reply, { location: '/ui/admin/oauth-clients/new', err, state: { values } });
    }
  });

  app.get('/admin/oauth-clients/:id', { schema: { hide: true } }, async (request, reply) => {
    const client = await clientOf(request);
    if (!client) return renderConsole(pages, { request, reply }, { ...view, name: 'not-found', data: { title: 'Client not found', message: 'It may have been deleted.' }, status: 404 });
    const reg = client.metadata as unknown as ClientRegistration;
    return renderConsole(pages, { request, reply }, { ...view, name: 'client', data: { title: client.name, client, reg, hasSecret: reg.token_endpoint_auth_method.startsWith('client_secret') } });
  });

  confirmRoute(app, pages, {
    ...view,
    path: '/admin/oauth-clients/:id/rotate-secret',
    async describe(request) {
      const client = await clientOf(request);
      return client && {
        title: 'Rotate the client secret',
        message: `${client.name} gets a new secret now; the old one keeps working for 24 hours so its deployment can switch over.`,
        action: `${clientPath(client.client_id)}/rotate-secret`,
        button: 'Rotate secret',
        cancel: clientPath(client.client_id),
      };
    },
  });
  app.post('/admin/oauth-clients/:id/rotate-secret', { schema: { hide: true } }, async (request, reply) => {
    const { id } = request.params as { id: string };
    try {
      const { client, secret } = await rotateClientSecret(ctx, { adminId: pageAdmin(request).id, clientId: id, meta: consoleMeta(request) });
      return showSecret(request, reply, { title: 'New client secret', clientId: client.client_id, secret });
    } catch (err) {
      return refused(pages, reply, { location: clientPath(id), err });
    }
  });

  confirmRoute(app, pages, {
    ...view,
    path: '/admin/oauth-clients/:id/delete',
    async describe(request) {
      const client = await clientOf(request);
      return client && {
        title: 'Delete client',
        message: `${client.name} is removed with every grant and token issued to it: its users are signed out of it. This cannot be undone.`,
        action: `${clientPath(client.client_id)}/delete`,
        button: 'Delete client',
        cancel: clientPath(client.client_id),
        danger: true,
      };
    },
  });
  app.post('/admin/oauth-clients/:id/delete', { schema: { hide: true } }, async (request, reply) => {
    const { id } = request.params as { id: string };
    try {
      await deleteClient(ctx, { adminId: pageAdmin(request).id, clientId: id, meta: consoleMeta(request) });
      return done(pages, reply, { location: '/ui/admin/oauth-clients', notice: 'The client was deleted.' });
    } catch (err) {
      return refused(pages, reply, { location: clientPath(id), err });
    }
  });
}
