// /ui/account/organization/domains: claim a domain, see the DNS TXT record to publish, verify
// it (the same service as POST /accounts/me/domains/{id}/verify, through the resolver
// DNS_SERVERS picks), and remove one behind a confirmation.
import type { FastifyInstance } from 'fastify';
import { Errors } from '../../lib/errors.js';
import { perMinute } from '../../plugins/rate-limit.js';
import { createTxtLookup, type TxtLookup } from '../domains/dns-verification.js';
import { ClaimDomainBody, toDomainResponse } from '../domains/domains.schemas.js';
import { claimDomain, listAccountDomains, removeDomain, verifyDomain } from '../domains/domains.service.js';
import { when } from '../console/console-format.js';
import { checkForm, formField } from '../hosted-ui/form-validation.js';
import { consoleMeta, ORG, UUID, type OrgPages } from './org-common.js';
import { redirectWithState } from '../hosted-ui/page-state.js';

const DOMAINS = `${ORG}/domains`;

export async function domainPages(app: FastifyInstance, org: OrgPages, lookup: TxtLookup = createTxtLookup(org.ctx.config.dnsServers)): Promise<void> {
  const { ctx, secure } = org;
  const idOf = (params: unknown): string => {
    const id = (params as { id?: string }).id ?? '';
    if (!UUID.test(id)) throw Errors.domainNotFound();
    return id;
  };

  app.get('/account/organization/domains', { schema: { hide: true } }, async (request, reply) => {
    const actor = await org.actor(request, reply);
    if (!actor) return reply;
    const rows = await listAccountDomains(ctx, actor.scope);
    return org.page(request, reply, { current: DOMAINS, view: 'domains', data: {
      title: 'Domains',
      domains: rows.map((row) => {
        const view = toDomainResponse(row);
        return { ...view, verifiedText: row.verified_at ? when(row.verified_at) : null };
      }),
    } });
  });

  app.post('/account/organization/domains', { schema: { hide: true } }, async (request, reply) => {
    const actor = await org.actor(request, reply);
    if (!actor) return reply;
    const values = { domain: formField(request.body, 'domain').trim() };
    const errors = checkForm(ClaimDomainBody, values);
    if (Object.keys(errors).length > 0) return redirectWithState(reply, { location: `${DOMAINS}#add-domain`, state: { form: 'add-domain', values, errors }, secure });
    try {
      const row = await claimDomain(ctx, { scope: actor.scope, input: values.domain, meta: consoleMeta(request) });
      return org.done(reply, `${DOMAINS}#domain-${row.id}`, { form: `domain-${row.id}`, notice: `Add the TXT record below to the DNS of ${row.domain}, then verify it.` });
    } catch (err) {
      return org.refuse(reply, err, { location: `${DOMAINS}#add-domain`, form: 'add-domain', values });
    }
  });

  app.post('/account/organization/domains/:id/verify', { config: perMinute(30), schema: { hide: true } }, async (request, reply) => {
    const actor = await org.actor(request, reply);
    if (!actor) return reply;
    const id = idOf(request.params);
    try {
      const row = await verifyDomain(ctx, lookup, { scope: actor.scope, id, meta: consoleMeta(request) });
      return org.done(reply, `${DOMAINS}#domain-${id}`, { form: `domain-${id}`, notice: `${row.domain} is verified.` });
    } catch (err) {
      return org.refuse(reply, err, { location: `${DOMAINS}#domain-${id}`, form: `domain-${id}` });
    }
  });

  app.get('/account/organization/domains/:id/delete', { schema: { hide: true } }, async (request, reply) => {
    const actor = await org.actor(request, reply);
    if (!actor) return reply;
    const id = idOf(request.params);
    const row = (await listAccountDomains(ctx, actor.scope)).find((domain) => domain.id === id);
    if (!row) throw Errors.domainNotFound();
    return org.confirm(request, reply, {
      current: DOMAINS,
      title: `Remove ${row.domain}?`,
      message: row.verified_at
        ? `People with an address at ${row.domain} no longer count as your organization's: single sign-on and its enforcement stop applying to them. To use the domain again, you will need to verify it again.`
        : 'The claim and its TXT record value are forgotten.',
      action: `${DOMAINS}/${row.id}/delete`,
      button: 'Remove the domain',
      cancel: DOMAINS,
    });
  });

  app.post('/account/organization/domains/:id/delete', { schema: { hide: true } }, async (request, reply) => {
    const actor = await org.actor(request, reply);
    if (!actor) return reply;
    const id = idOf(request.params);
    try {
      await removeDomain(ctx, { scope: actor.scope, id, meta: consoleMeta(request) });
      return org.done(reply, DOMAINS, { form: 'domains', notice: 'The domain has been removed.' });
    } catch (err) {
      return org.refuse(reply, err, { location: DOMAINS, form: 'domains' });
    }
  });
}
