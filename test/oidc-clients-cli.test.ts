// `keyhold clients …` run as the real binary: add (secret once), list (never the secret),
// rotate-secret, remove, and a refused redirect URI as one clear line.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { newClientId } from '../src/modules/oidc-provider/clients.service.js';
import { runCli, runCliJson } from './helpers/cli.js';
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from './helpers/database.js';

it('a client id never begins with - or _ (it would read as an option on the command line)', () => {
  const ids = Array.from({ length: 2000 }, newClientId);
  assert.deepEqual(ids.filter((id) => !/^[A-Za-z0-9]/.test(id)), []);
  assert.ok(ids.every((id) => /^[A-Za-z0-9_-]{22}$/.test(id)));
});

for (const kind of DATABASE_KINDS) {
  describe(`keyhold clients (${kind})`, () => {
    let database: TestDatabase;
    let env: Record<string, string>;
    before(async () => {
      database = await createTestDatabase(kind, { persistent: true });
      env = { ...database.env, LOG_LEVEL: 'silent', SECRETS_ENCRYPTION_KEY: Buffer.alloc(32, 5).toString('base64') };
    });
    after(async () => database?.drop());

    it('add, list, rotate-secret, remove', async () => {
      const refused = await runCli(['clients', 'add', 'Bad', '--grant-types', 'authorization_code', '--redirect-uris', 'http://app.example.com/cb'], { env });
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /http:\/\/ is allowed only for the loopback addresses/);

      const added = await runCliJson<{ client_id: string; client_secret: string }>(['clients', 'add', 'Web app', '--grant-types', 'authorization_code,refresh_token', '--redirect-uris', 'https://app.example.com/cb', '--scopes', 'openid,email,offline_access'], { env });
      assert.ok(added.client_id && added.client_secret);
      const listed = await runCli(['clients', 'list'], { env });
      assert.equal(listed.code, 0);
      assert.ok(listed.stdout.includes(added.client_id) && !listed.stdout.includes(added.client_secret));
      const rotated = await runCliJson<{ client_secret: string }>(['clients', 'rotate-secret', added.client_id], { env });
      assert.ok(rotated.client_secret && rotated.client_secret !== added.client_secret);
      assert.equal((await runCli(['clients', 'remove', added.client_id], { env })).code, 0);
      const gone = await runCli(['clients', 'remove', added.client_id], { env });
      assert.equal(gone.code, 1);
      assert.match(gone.stderr, /OAuth client not found/);
      // An id made by an earlier version may begin with `-`: after `--` it is an argument, not an option.
      const dashed = await runCli(['clients', 'remove', '--', '-2PDkM2XDFLXtwfScrleQQ'], { env });
      assert.equal(dashed.code, 1);
      assert.match(dashed.stderr, /OAuth client not found/);
    });
  });
}
