// `keyhold keys list | rotate | revoke`, run as the real binary. The embedded database is one
// process at a time, so the app is stopped while the CLI runs (on PostgreSQL too, for one test).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { decodeProtectedHeader } from 'jose';
import { startTestApp } from './helpers/app.js';
import { runCli, runCliJson } from './helpers/cli.js';
import { createTestDatabase, DATABASE_KINDS } from './helpers/database.js';
import { registerAndSignIn, signIn } from './helpers/fixtures.js';

for (const kind of DATABASE_KINDS) describe(`keyhold keys (${kind})`, () => {
  it('lists, rotates and revokes, with private keys sealed by SECRETS_ENCRYPTION_KEY', async () => {
    const database = await createTestDatabase(kind, { persistent: true });
    const env = { ...database.env, LOG_LEVEL: 'silent', SECRETS_ENCRYPTION_KEY: randomBytes(32).toString('base64') };
    try {
      const first = await startTestApp(kind, { database, env });
      const u = await registerAndSignIn(first.api);
      const sealed = await first.app.ctx.db.selectFrom('signing_keys').select('private_key').execute();
      assert.ok(sealed.every((k) => k.private_key!.startsWith('v1.')), 'encrypted at rest');
      await first.close();

      const listed = await runCliJson(['keys', 'list'], { env });
      assert.deepEqual(listed.map((k: { state: string }) => k.state).sort(), ['current', 'next']);
      const current = listed.find((k: { state: string }) => k.state === 'current').kid;
      assert.equal(decodeProtectedHeader(u.accessToken).kid, current);

      const rotated = await runCliJson(['keys', 'rotate'], { env });
      assert.equal(rotated.previous, current);
      const human = await runCli(['keys', 'list'], { env });
      assert.equal(human.code, 0, human.stderr);
      assert.match(human.stdout, new RegExp(`${current.replace(/[-]/g, '\\-')}\\s+ES256\\s+previous`));

      const revoked = await runCliJson(['keys', 'revoke', current], { env });
      assert.deepEqual(revoked, { kid: current, was: 'previous' });
      const unknown = await runCli(['keys', 'revoke', 'no-such-key'], { env });
      assert.deepEqual([unknown.code, unknown.stderr.trim()], [1, 'keyhold: Signing key not found']);
      // A kid may start with "-" (base64url): it is the key's id, not an option.
      const dashed = await runCli(['keys', 'revoke', '-no-such-key'], { env });
      assert.deepEqual([dashed.code, dashed.stderr.trim()], [1, 'keyhold: Signing key not found']);

      const second = await startTestApp(kind, { database, env });
      try {
        assert.equal((await second.api.get('/auth/me', u.accessToken)).status, 401, 'the revoked key signed it');
        // The session's refresh token is MACed by the refresh key, not signed by the revoked key.
        assert.equal((await second.api.post('/auth/refresh', { refresh_token: u.refreshToken })).status, 200);
        const again = await signIn(second.api, u.email);
        assert.equal(decodeProtectedHeader(again.accessToken).kid, rotated.current);
        assert.equal((await second.api.get('/auth/me', again.accessToken)).status, 200);
      } finally {
        await second.close();
      }
      const hs = await runCli(['keys', 'list'], { env: { ...env, JWT_ALGORITHM: 'HS256' } });
      assert.equal(hs.code, 0, 'listing works in any mode');
      const hsRotate = await runCli(['keys', 'rotate'], { env: { ...env, JWT_ALGORITHM: 'HS256' } });
      assert.equal(hsRotate.code, 1);
      assert.match(hsRotate.stderr, /HS256/);
    } finally {
      await database.drop();
    }
  });
});
