// SSRF through an OIDC connection's issuer (issue 28): a customer's admin types the issuer in,
// and Keyhold fetches discovery, token, JWKS and userinfo from it. With the URL guard on (no
// WEBHOOK_ALLOW_INSECURE_URLS), an issuer on a loopback address is refused when the connection
// is created or changed, and a connection that already points there (made before the guard)
// fetches nothing at sign-in: a listener on loopback counts every TCP connection it gets.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { sealPurpose } from '../src/modules/sso/connection-config.js';
import { insertConnection } from '../src/modules/sso/sso.repo.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { DATABASE_KINDS } from './helpers/database.js';
import { startDnsServer, type TestDnsServer } from './helpers/dns-server.js';
import { accountWithDomain, FRONT_END, type SsoAccount } from './helpers/sso.js';

for (const kind of DATABASE_KINDS) {
  describe(`SSO OIDC issuer on a private address (${kind})`, () => {
    let t: TestApp;
    let dns: TestDnsServer;
    let listener: Server;
    let port: number;
    let account: SsoAccount;
    const sockets: Socket[] = [];

    before(async () => {
      dns = await startDnsServer();
      listener = createServer((socket) => {
        sockets.push(socket);
        socket.destroy();
      });
      await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
      port = (listener.address() as AddressInfo).port;
      t = await startTestApp(kind, { env: { DNS_SERVERS: dns.address, OAUTH_REDIRECT_URIS: FRONT_END } });
      account = await accountWithDomain(t, dns);
    });
    after(async () => {
      await t.close();
      await new Promise<void>((resolve) => listener.close(() => resolve()));
      await dns.close();
    });

    it('refuses a loopback issuer at creation and on change, fetching nothing', async () => {
      for (const issuer of [`https://127.0.0.1:${port}/corp`, `https://localhost:${port}/corp`, `https://[::ffff:127.0.0.1]:${port}/corp`]) {
        const created = await t.api.post('/accounts/me/sso-connections', {
          type: 'oidc', name: 'Inside', issuer, client_id: 'c', client_secret: 's',
        }, account.owner.accessToken);
        assert.equal(created.status, 422, `${issuer}: ${JSON.stringify(created.body)}`);
        assert.equal(created.body.code, 'validation_failed');
        assert.deepEqual(created.body.detail[0].loc, ['body', 'issuer']);
        assert.equal(created.body.detail[0].type, 'url_not_allowed');
      }
      const listed = await t.api.get('/accounts/me/sso-connections', account.owner.accessToken);
      assert.equal(listed.body.data?.length ?? listed.body.length, 0);
      assert.equal(sockets.length, 0, 'nothing was fetched from the private address');
    });

    it('fetches nothing at sign-in from a connection that already points at loopback', async () => {
      const id = randomUUID();
      // As if made before the guard: straight into the table.
      await insertConnection(t.app.ctx.db, {
        id,
        accountId: account.accountId,
        type: 'oidc',
        name: 'Old',
        config: { issuer: `https://127.0.0.1:${port}/corp`, client_id: 'c', scopes: ['openid', 'email'] },
        secrets: t.app.ctx.secrets.seal(JSON.stringify({ client_secret: 's' }), sealPurpose(id)),
        now: new Date(),
      });
      const started = await t.api.post('/auth/sso/start', { connection_id: id, redirect_uri: FRONT_END });
      assert.equal(started.status, 503, JSON.stringify(started.body));
      assert.equal(started.body.code, 'oauth_provider_unavailable');
      assert.equal(sockets.length, 0, 'sign-in fetched nothing from the private address');
      const changed = await t.api.patch(`/accounts/me/sso-connections/${id}`, { issuer: `https://127.0.0.2:${port}/corp` }, account.owner.accessToken);
      assert.equal(changed.status, 422, JSON.stringify(changed.body));
      assert.equal(changed.body.detail[0].type, 'url_not_allowed');
      assert.equal(sockets.length, 0, 'nothing was fetched from the private address');
    });
  });
}
