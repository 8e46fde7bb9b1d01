// /ui/account/organization/sso: the account's SSO connections (create a SAML one from the
// identity provider's metadata, or an OIDC one from its issuer and client), each connection's
// page with the SP values to copy into the identity provider, turning it off and on, and
// deleting it behind a confirmation. The same service functions as /accounts/me/sso-connections.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { Errors } from '../../lib/errors.js';
import { perMinute } from '../../plugins/rate-limit.js';
import { OidcConnectionBody, SamlConnectionBody, toConnectionResponse, type CreateConnectionBody } from '../sso/connections.schemas.js';
import { changeConnection, createConnection, getConnection, getPolicy, listAccountConnections, removeConnection } from '../sso/connections.service.js';
import { when } from '../console/console-format.js';
import { checkForm, formField } from '../hosted-ui/form-validation.js';
import { consoleMeta, ORG, UUID, type OrgPages } from './org-common.js';
import { redirectWithState } from '../hosted-ui/page-state.js';

export const SSO = `${ORG}/sso`;

/** The SP values an identity provider's admin copies, with their labels, in the order asked for. */
function spFields(sp: Record<string, string | undefined>): Array<{ id: string; label: string; value: string; hint: string }> {
  const labels: Array<[string, string, string]> = [
    ['entity_id', 'Entity ID (audience)', 'Also called Identifier or Audience URI.'],
    ['acs_url', 'Assertion Consumer Service (ACS) URL', 'Also called Reply URL or Single sign-on URL.'],
    ['metadata_url', 'SP metadata URL', 'Some identity providers read all of the above from here.'],
    ['redirect_uri', 'Redirect URI (callback URL)', 'Register it as the app\'s only redirect URI.'],
  ];
  return labels.flatMap(([id, label, hint]) => (sp[id] ? [{ id, label, hint, value: sp[id]! }] : []));
}

/** A form's fields as the API's body: empty optional fields left out, scopes split on spaces. */
function connectionBody(type: 'saml' | 'oidc', values: Record<string, string>): Record<string, unknown> {
  if (type === 'saml') {
    return {
      type,
      name: values.name,
      ...(values.metadata_xml ? { metadata_xml: values.metadata_xml } : {}),
      ...(values.metadata_url ? { metadata_url: values.metadata_url } : {}),
    };
  }
  const scopes = values.scopes!.split(/[\s,]+/).filter(Boolean);
  return { type, name: values.name, issuer: values.issuer, client_id: values.client_id, client_secret: values.client_secret, ...(scopes.length ? { scopes } : {}) };
}

export async function ssoPages(app: FastifyInstance, org: OrgPages): Promise<void> {
  const { ctx, secure } = org;
  const idOf = (params: unknown): string => {
    const id = (params as { id?: string }).id ?? '';
    if (!UUID.test(id)) throw Errors.ssoConnectionNotFound();
    return id;
  };

  app.get('/account/organization/sso', { schema: { hide: true } }, async (request, reply) => {
    const actor = await org.actor(request, reply);
    if (!actor) return reply;
    const [rows, policy] = await Promise.all([listAccountConnections(ctx, actor.scope), getPolicy(ctx, actor.scope)]);
    return org.page(request, reply, { current: SSO, view: 'sso', data: {
      title: 'Single sign-on',
      connections: rows.map((row) => ({ id: row.id, name: row.name, type: row.type.toUpperCase(), enabled: row.enabled, created: when(row.created_at) })),
      policy,
    } });
  });

  const create = (type: 'saml' | 'oidc', fields: readonly string[]) =>
    app.post(`/account/organization/sso/${type}`, { config: perMinute(20), schema: { hide: true } }, async (request, reply): Promise<FastifyReply> => {
      const actor = await org.actor(request, reply);
      if (!actor) return reply;
      const form = `new-${type}`;
      const values = Object.fromEntries(fields.map((field) => [field, formField(request.body, field).trim()]));
      const body = connectionBody(type, values);
      const errors = checkForm(type === 'saml' ? SamlConnectionBody : OidcConnectionBody, body);
      if (type === 'saml' && !values.metadata_xml && !values.metadata_url) errors.metadata_xml ??= 'Paste the metadata XML, or give its URL.';
      // What was typed comes back, except the secret and the (large) metadata.
      const kept = { ...values, client_secret: '', metadata_xml: '' };
      if (Object.keys(errors).length > 0) return redirectWithState(reply, { location: `${SSO}#${form}`, state: { form, values: kept, errors }, secure });
      try {
        const row = await createConnection(ctx, { scope: actor.scope, body: body as CreateConnectionBody, meta: consoleMeta(request) });
        return org.done(reply, `${SSO}/${row.id}`, { form: 'connection', notice: 'The connection has been created. Enter the values below in your identity provider.' });
      } catch (err) {
        return org.refuse(reply, err, { location: `${SSO}#${form}`, form, values: kept });
      }
    });
  create('saml', ['name', 'metadata_xml', 'metadata_url']);
  create('oidc', ['name', 'issuer', 'client_id', 'client_secret', 'scopes']);

  app.get('/account/organization/sso/:id', { schema: { hide: true } }, async (request, reply) => {
    const actor = await org.actor(request, reply);
    if (!actor) return reply;
    const view = toConnectionResponse(ctx.config, await getConnection(ctx, actor.scope, idOf(request.params)));
    const facts: Array<[string, unknown]> = [
      ['Type', view.type.toUpperCase()],
      ['Status', view.enabled ? { text: 'On', badge: 'ok' } : { text: 'Off', badge: 'off' }],
      ...(view.type === 'saml'
        ? ([['Identity provider entity ID', { text: view.idp_entity_id, code: true }], ['Identity provider sign-in URL', { text: view.idp_sso_url, code: true }]] as Array<[string, unknown]>)
        : ([['Issuer', { text: view.issuer, code: true }], ['Client ID', { text: view.client_id, code: true }], ['Scopes', (view.scopes ?? []).join(' ')]] as Array<[string, unknown]>)),
      ['Created', when(view.created_at)],
    ];
    return org.page(request, reply, { current: SSO, view: 'connection', data: { title: view.name, connection: view, facts, spFields: spFields(view.sp) } });
  });

  app.post('/account/organization/sso/:id/enabled', { schema: { hide: true } }, async (request, reply) => {
    const actor = await org.actor(request, reply);
    if (!actor) return reply;
    const id = idOf(request.params);
    const enabled = formField(request.body, 'enabled') === 'true';
    try {
      await changeConnection(ctx, { scope: actor.scope, id, body: { enabled }, meta: consoleMeta(request) });
      return org.done(reply, `${SSO}/${id}`, { form: 'connection', notice: enabled ? 'The connection is on.' : 'The connection is off: nobody signs in through it until you turn it on again.' });
    } catch (err) {
      return org.refuse(reply, err, { location: `${SSO}/${id}`, form: 'connection' });
    }
  });

  app.get('/account/organization/sso/:id/delete', { schema: { hide: true } }, async (request, reply) => {
    const actor = await org.actor(request, reply);
    if (!actor) return reply;
    const row = await getConnection(ctx, actor.scope, idOf(request.params));
    return org.confirm(request, reply, {
      current: SSO,
      title: `Delete the connection ${row.name}?`,
      message: 'Nobody can sign in through it any more, and the links between it and your people are forgotten. Your identity provider keeps its side of the setup.',
      action: `${SSO}/${row.id}/delete`,
      button: 'Delete the connection',
      cancel: `${SSO}/${row.id}`,
    });
  });

  app.post('/account/organization/sso/:id/delete', { schema: { hide: true } }, async (request, reply) => {
    const actor = await org.actor(request, reply);
    if (!actor) return reply;
    const id = idOf(request.params);
    try {
      await removeConnection(ctx, { scope: actor.scope, id, meta: consoleMeta(request) });
      return org.done(reply, SSO, { form: 'connections', notice: 'The connection has been deleted.' });
    } catch (err) {
      return org.refuse(reply, err, { location: `${SSO}/${id}`, form: 'connection' });
    }
  });
}
