// Screenshots of the organization console and the account page for docs/organization-console.md
// (docs/org-*.png): an app on the embedded database with a made-up organization (members, an
// invitation, a verified domain checked against a DNS server on loopback, a SAML connection, a
// SCIM token), photographed in Debian's Chromium at 1100 px, light scheme.
//   npx tsx scripts/org-screenshots.ts        (CHROMIUM_PATH picks another browser)
import { join } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { startTestApp } from '../test/helpers/app.js';
import { startDnsServer } from '../test/helpers/dns-server.js';
import { PASSWORD, registerAndSignIn } from '../test/helpers/fixtures.js';
import { freePort } from '../test/helpers/ports.js';
import { TestSamlIdp } from '../test/helpers/saml-idp.js';

const DOCS = new URL('../docs/', import.meta.url).pathname;
const ORG = '/ui/account/organization';

const dns = await startDnsServer();
const port = await freePort();
const origin = `http://localhost:${port}`;
const t = await startTestApp('pglite', {
  port,
  env: { HOSTED_UI_ENABLED: 'true', PUBLIC_URL: origin, FRONTEND_URL: '', UI_BRAND_NAME: 'Acme', DNS_SERVERS: dns.address, LOG_LEVEL: 'warn' },
});
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
try {
  // The organization, made through the API as its admin would.
  const owner = await registerAndSignIn(t.api, { name: 'Olivia Okafor', email: 'olivia@example.com' });
  // (No route renames an account: the name is set in the database.)
  await t.app.ctx.db.updateTable('accounts').set({ name: 'Northwind Traders' }).where('owner_id', '=', owner.id).execute();
  for (const [name, email, role] of [['Ben Adler', 'ben@example.com', 'admin'], ['Chen Wei', 'chen@example.com', 'member']] as const) {
    const invite = await t.api.post('/accounts/me/invites', { email, role }, owner.accessToken);
    await registerAndSignIn(t.api, { name, email, account_invite_code: invite.body.code });
  }
  await t.api.post('/accounts/me/invites', { email: 'dana@example.com', role: 'member' }, owner.accessToken);
  const verified = await t.api.post('/accounts/me/domains', { domain: 'northwind.example' }, owner.accessToken);
  dns.txt.set(verified.body.verification.name, [verified.body.verification.value]);
  await t.api.post(`/accounts/me/domains/${verified.body.id}/verify`, {}, owner.accessToken);
  await t.api.post('/accounts/me/domains', { domain: 'northwind-eu.example' }, owner.accessToken);
  const idp = new TestSamlIdp('https://login.northwind.example/saml');
  const connection = await t.api.post('/accounts/me/sso-connections', { type: 'saml', name: 'Northwind Okta', metadata_xml: idp.metadata() }, owner.accessToken);
  await t.api.post('/accounts/me/scim-tokens', { description: 'Okta provisioning' }, owner.accessToken);

  const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
  await page.goto(`${origin}/ui/sign-in`);
  await page.fill('#f-email', owner.email);
  // Email first once an account has an SSO connection: Continue, then the password step.
  if ((await page.locator('#f-password').count()) === 0) await Promise.all([page.waitForNavigation(), page.press('#f-email', 'Enter')]);
  await page.fill('#f-password', PASSWORD);
  await Promise.all([page.waitForNavigation(), page.press('#f-password', 'Enter')]);
  const shoot = async (path: string, name: string, prepare?: (page: Page) => Promise<void>) => {
    await page.goto(`${origin}${path}`);
    await prepare?.(page);
    await page.screenshot({ path: join(DOCS, `org-${name}.png`), fullPage: true });
    console.log(`docs/org-${name}.png`);
  };
  await shoot(ORG, 'members');
  await shoot(`${ORG}/domains`, 'domains');
  await shoot(`${ORG}/sso`, 'sso');
  await shoot(`${ORG}/sso/${connection.body.id}`, 'sso-connection');
  await shoot(`${ORG}/scim`, 'scim', async (p) => {
    await p.fill('#f-new-token-description', 'Entra ID');
    await Promise.all([p.waitForNavigation(), p.press('#f-new-token-description', 'Enter')]);
  });
  await page.screenshot({ path: join(DOCS, 'org-scim.png'), fullPage: true });
  await shoot('/ui/account', 'account');
} finally {
  await browser.close();
  await t.close();
  await dns.close();
}
