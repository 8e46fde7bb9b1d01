// `npx tsx scripts/console-screenshots.ts`: screenshots of each admin console page for
// docs/console.md (docs/console-*.png, 1280 px wide, light scheme), taken in Debian's Chromium
// (playwright-core) against the app on an in-memory database with a little sample data.
import { join } from 'node:path';
import { ensureAdmin } from '../src/modules/admin/create-admin.js';
import { createScimToken } from '../src/modules/scim/scim-tokens.service.js';
import { createWebhook } from '../src/modules/webhooks/webhooks.service.js';
import { startTestApp } from '../test/helpers/app.js';
import { registerUser, signIn } from '../test/helpers/fixtures.js';
import { launchPageBrowser, skipWithoutChromium } from '../test/helpers/page-browser.js';
import { freePort } from '../test/helpers/ports.js';
import { startReceiver } from '../test/helpers/webhook-receiver.js';

if (skipWithoutChromium) throw new Error(skipWithoutChromium);
const DOCS = join(import.meta.dirname, '..', 'docs');
const PASSWORD = 'a long and unusual passphrase';
const port = await freePort();
const origin = `http://localhost:${port}`;
const t = await startTestApp('pglite', {
  port,
  env: { HOSTED_UI_ENABLED: 'true', OIDC_PROVIDER_ENABLED: 'true', PUBLIC_URL: origin, FRONTEND_URL: '', UI_BRAND_NAME: 'Acme', WEBHOOK_ALLOW_INSECURE_URLS: 'true', OUTBOX_POLL_INTERVAL_MS: '100' },
});
const receiver = await startReceiver();
const browser = await launchPageBrowser();
try {
  const meta = { ip: '203.0.113.7', userAgent: 'screenshots' };
  const { user: admin } = await ensureAdmin(t.app.ctx, { email: 'ada@acme.example', password: PASSWORD, name: 'Ada Admin' });
  const people = ['grace', 'alan', 'barbara', 'edsger', 'katherine', 'linus', 'margaret', 'tim'];
  for (const name of people) {
    const { email } = await registerUser(t.api, { email: `${name}@acme.example`, name: name[0]!.toUpperCase() + name.slice(1), password: PASSWORD });
    await signIn(t.api, email, PASSWORD);
  }
  const grace = await t.app.ctx.db.selectFrom('users').selectAll().where('email', '=', 'grace@acme.example').executeTakeFirstOrThrow();
  await t.app.ctx.db.updateTable('accounts').set({ name: 'Acme Corporation' }).where('id', '=', grace.account_id).execute();
  await createScimToken(t.app.ctx, { actor: grace, input: { description: 'Okta directory' }, meta });
  const { endpoint } = await createWebhook(t.app.ctx, {
    adminId: admin.id,
    input: { url: `${receiver.url}/keyhold`, description: 'Billing service', events: ['user.created', 'user.deactivated'] },
    meta,
  });

  const page = await browser.context.newPage();
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto(`${origin}/ui/sign-in?next=/ui/admin/users`);
  await page.fill('#f-email', 'ada@acme.example');
  await page.fill('#f-password', PASSWORD);
  await Promise.all([page.waitForNavigation(), page.press('#f-password', 'Enter')]);
  await page.goto(`${origin}/ui/admin/webhooks/${endpoint.id}`);
  await Promise.all([page.waitForNavigation(), page.press('form[action$="/test"] button', 'Enter')]);
  await new Promise((resolve) => setTimeout(resolve, 1000));

  const shots: Array<[string, string]> = [
    ['users', '/ui/admin/users'],
    ['user', `/ui/admin/users/${grace.id}`],
    ['confirm', `/ui/admin/users/${grace.id}/deactivate`],
    ['accounts', '/ui/admin/accounts'],
    ['account', `/ui/admin/accounts/${grace.account_id}`],
    ['audit', '/ui/admin/audit'],
    ['webhooks', '/ui/admin/webhooks'],
    ['webhook', `/ui/admin/webhooks/${endpoint.id}`],
    ['keys', '/ui/admin/keys'],
    ['oauth-clients', '/ui/admin/oauth-clients/new'],
    ['invite-codes', '/ui/admin/invite-codes'],
    ['settings', '/ui/admin/settings'],
  ];
  for (const [name, path] of shots) {
    await page.goto(`${origin}${path}`);
    await page.screenshot({ path: join(DOCS, `console-${name}.png`) });
    console.log(`docs/console-${name}.png`);
  }
  // The secret shown once, and the users list on a phone.
  await page.goto(`${origin}/ui/admin/webhooks/${endpoint.id}/rotate-secret`);
  await Promise.all([page.waitForNavigation(), page.press('.confirm-card button[type="submit"]', 'Enter')]);
  await page.screenshot({ path: join(DOCS, 'console-secret.png') });
  await page.setViewportSize({ width: 360, height: 760 });
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.goto(`${origin}/ui/admin/users`);
  await page.screenshot({ path: join(DOCS, 'console-users-phone-dark.png') });
  console.log('docs/console-secret.png, docs/console-users-phone-dark.png');
} finally {
  await browser.close();
  await receiver.close();
  await t.close();
}
