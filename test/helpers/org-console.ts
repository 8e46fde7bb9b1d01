// Steps shared by the organization console's tests (console-org*.test.ts): an app with the
// pages, the OpenID provider and a DNS server on loopback; a member joined by invitation; a
// browser signed in on a console page; the audit row a console action leaves.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { DatabaseKind } from './database.js';
import { startDnsServer, type TestDnsServer } from './dns-server.js';
import { registerAndSignIn, uniqueEmail, type SignedInUser } from './fixtures.js';
import { startProviderApp, type ProviderApp } from './oidc-rp.js';
import { pageSignIn, type PageClient } from './page-client.js';

export const ORG = '/ui/account/organization';

export const newDomain = (): string => `corp-${randomBytes(4).toString('hex')}.test`;

export interface OrgConsoleApp {
  t: ProviderApp;
  dns: TestDnsServer;
  /** Invites a new address into `by`'s account through the API and registers it. */
  join(by: SignedInUser, role: 'admin' | 'member'): Promise<SignedInUser>;
  /** A browser signed in as `user`, on the console page `path` (so its CSRF token is at hand). */
  consoleAs(user: SignedInUser, path?: string): Promise<PageClient>;
  audit(action: string, resourceId: string): Promise<Array<{ user_id: string | null; details: unknown }>>;
  /** One `action` row for `resourceId`, by `actorId`, marked as made in the console. */
  assertConsoleAudit(action: string, resourceId: string, actorId: string): Promise<void>;
  close(): Promise<void>;
}

export async function startOrgConsoleApp(kind: DatabaseKind): Promise<OrgConsoleApp> {
  const dns = await startDnsServer();
  const t = await startProviderApp(kind, { env: { HOSTED_UI_ENABLED: 'true', DNS_SERVERS: dns.address } });
  const audit = (action: string, resourceId: string) =>
    t.app.ctx.db.selectFrom('audit_logs').select(['user_id', 'details']).where('action', '=', action).where('resource_id', '=', resourceId).execute();
  return {
    t,
    dns,
    async join(by, role) {
      const email = uniqueEmail(role);
      const invited = await t.api.post('/accounts/me/invites', { email, role }, by.accessToken);
      assert.equal(invited.status, 201, JSON.stringify(invited.body));
      return registerAndSignIn(t.api, { email, account_invite_code: invited.body.code });
    },
    async consoleAs(user, path = ORG) {
      const browser = await pageSignIn(t.baseUrl, user.email);
      const page = await browser.get(path);
      assert.equal(page.status, 200, page.html.slice(0, 300));
      return browser;
    },
    audit,
    async assertConsoleAudit(action, resourceId, actorId) {
      const rows = await audit(action, resourceId);
      assert.equal(rows.length, 1, `one ${action} row for ${resourceId}`);
      assert.equal(rows[0]!.user_id, actorId);
      assert.equal((rows[0]!.details as { via?: string }).via, 'console', `${action} is marked as made in the console`);
    },
    async close() {
      await t.close();
      await dns.close();
    },
  };
}
