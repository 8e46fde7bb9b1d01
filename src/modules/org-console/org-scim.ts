// /ui/account/organization/scim: the SCIM base URL, the account's SCIM tokens (description,
// created, last used), issuing one (shown once, in the reply that creates it, with a copy
// button; never stored in a cookie) and revoking one behind a confirmation. The same service
// functions as /accounts/me/scim-tokens.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Errors } from '../../lib/errors.js';
import { perMinute } from '../../plugins/rate-limit.js';
import { CreateScimTokenBody } from '../scim/scim-admin.schemas.js';
import { createScimToken, listTokens, revokeScimToken } from '../scim/scim-tokens.service.js';
import { when } from '../console/console-format.js';
import { checkForm, formField } from '../hosted-ui/form-validation.js';
import { consoleMeta, ORG, UUID, type OrgActor, type OrgPages } from './org-common.js';
import { redirectWithState } from '../hosted-ui/page-state.js';

const SCIM = `${ORG}/scim`;

export async function scimPages(app: FastifyInstance, org: OrgPages): Promise<void> {
  const { ctx, secure } = org;
  const idOf = (params: unknown): string => {
    const id = (params as { id?: string }).id ?? '';
    if (!UUID.test(id)) throw Errors.scimTokenNotFound();
    return id;
  };

  const show = async (request: FastifyRequest, reply: FastifyReply, shown: { actor: OrgActor; created?: { token: string; description: string | null } }) => {
    const { actor, created } = shown;
    const tokens = await listTokens(ctx, actor.user);
    return org.page(request, reply, { current: SCIM, view: 'scim', data: {
      title: 'SCIM provisioning',
      baseUrl: `${ctx.config.publicUrl}/scim/v2`,
      created,
      tokens: tokens.map((token) => ({
        id: token.id,
        description: token.description,
        created: when(token.created_at),
        createdIso: token.created_at.toISOString(),
        lastUsed: token.last_used_at ? when(token.last_used_at) : null,
      })),
    } });
  };

  app.get('/account/organization/scim', { schema: { hide: true } }, async (request, reply) => {
    const actor = await org.actor(request, reply);
    return actor ? show(request, reply, { actor }) : reply;
  });

  app.post('/account/organization/scim/tokens', { config: perMinute(20), schema: { hide: true } }, async (request, reply) => {
    const actor = await org.actor(request, reply);
    if (!actor) return reply;
    const description = formField(request.body, 'description').trim();
    const input = description ? { description } : {};
    const errors = checkForm(CreateScimTokenBody, input);
    if (Object.keys(errors).length > 0) return redirectWithState(reply, { location: `${SCIM}#new-token`, state: { form: 'new-token', values: { description }, errors }, secure });
    try {
      const created = await createScimToken(ctx, { actor: actor.user, input, meta: consoleMeta(request) });
      // The token exists only in this reply: the page that shows it is this response itself.
      return await show(request, reply, { actor, created: { token: created.token, description: created.description } });
    } catch (err) {
      return org.refuse(reply, err, { location: `${SCIM}#new-token`, form: 'new-token', values: { description } });
    }
  });

  app.get('/account/organization/scim/tokens/:id/revoke', { schema: { hide: true } }, async (request, reply) => {
    const actor = await org.actor(request, reply);
    if (!actor) return reply;
    const id = idOf(request.params);
    const token = (await listTokens(ctx, actor.user)).find((row) => row.id === id);
    if (!token) throw Errors.scimTokenNotFound();
    return org.confirm(request, reply, {
      current: SCIM,
      title: `Revoke the SCIM token${token.description ? ` “${token.description}”` : ''}?`,
      message: 'Your identity provider can no longer provision people with it: its next request is refused. People already provisioned stay as they are.',
      action: `${SCIM}/tokens/${token.id}/revoke`,
      button: 'Revoke the token',
      cancel: SCIM,
    });
  });

  app.post('/account/organization/scim/tokens/:id/revoke', { schema: { hide: true } }, async (request, reply) => {
    const actor = await org.actor(request, reply);
    if (!actor) return reply;
    const id = idOf(request.params);
    try {
      await revokeScimToken(ctx, { actor: actor.user, id, meta: consoleMeta(request) });
      return org.done(reply, `${SCIM}#tokens`, { form: 'tokens', notice: 'The token has been revoked.' });
    } catch (err) {
      return org.refuse(reply, err, { location: `${SCIM}#tokens`, form: 'tokens' });
    }
  });
}
