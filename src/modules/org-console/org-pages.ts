// /ui/account/organization: the customer admin's console (API.md "Console"), for the owner and
// admins of an account. Each sub-page is a group of its own (org-*.ts); org-common.ts holds
// what they share (who may open them, the audit origin, the confirmation step).
import type { FastifyInstance } from 'fastify';
import type { TxtLookup } from '../domains/dns-verification.js';
import { domainPages } from './org-domains.js';
import { memberPages } from './org-members.js';
import { orgPages } from './org-common.js';
import { scimPages } from './org-scim.js';
import { ssoPolicyPages } from './org-sso-policy.js';
import { ssoPages } from './org-sso.js';
import type { PageContext } from '../hosted-ui/page-context.js';

export async function organizationPages(app: FastifyInstance, pages: PageContext, options: { lookup?: TxtLookup } = {}): Promise<void> {
  const org = orgPages(pages);
  await memberPages(app, org);
  await domainPages(app, org, options.lookup);
  // The policy's fixed path before the connections' /sso/:id.
  await ssoPolicyPages(app, org);
  await ssoPages(app, org);
  await scimPages(app, org);
}
