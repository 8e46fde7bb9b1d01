import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestApp } from './helpers/app.js';
import { DATABASE_KINDS } from './helpers/database.js';
import { registerAndSignIn } from './helpers/fixtures.js';

for (const kind of DATABASE_KINDS) {
  describe(`smoke (${kind})`, () => {
    let t: TestApp;
    before(async () => {
      // As in production: the app opens its database itself (elsewhere a fresh embedded one is
      // unpacked from a cached cluster, see helpers/database.ts) and hashes with argon2.
      t = await startTestApp(kind, { appOpensDatabase: true, passwords: 'argon2' });
    });
    after(() => t.close());

    it('registers, signs in and reads the profile', async () => {
      const user = await registerAndSignIn(t.api);
      const me = await t.api.get('/auth/me', user.accessToken);
      assert.equal(me.status, 200, JSON.stringify(me.body));
      assert.equal(me.body.email, user.email);
      const refreshed = await t.api.post('/auth/refresh', { refresh_token: user.refreshToken });
      assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
    });
  });
}
