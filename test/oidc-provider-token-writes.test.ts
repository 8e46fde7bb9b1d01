// The provider's reads ahead and writes together (modules/oidc-provider/request-reads.ts,
// write-behind.ts): a code exchange and a refresh in two statements, userinfo in one. What must
// hold whatever the batching: a code or refresh token raced by several requests buys tokens
// once (the losers save nothing); a grant source is consumed even when its request fails after
// the checks; nothing read ahead outlives its request (a user changed or deactivated between
// two userinfo calls is seen at once).
import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { startSqlCounter, type SqlCounter } from '../bench/sql-counter.js';
import { createTestDatabase, DATABASE_KINDS, type DatabaseKind } from './helpers/database.js';
import { registerUser } from './helpers/fixtures.js';
import { followAuthorization, registerClient, startProviderApp, type ProviderApp, type RegisteredClient } from './helpers/oidc-rp.js';
import { pageSignIn, type PageClient } from './helpers/page-client.js';

const REDIRECT = 'https://app.example.com/callback';

interface Fixture {
  t: ProviderApp;
  client: RegisteredClient;
  browser: PageClient;
  userId: string;
}

async function setUp(kind: DatabaseKind, options: Parameters<typeof startProviderApp>[1] = {}): Promise<Fixture> {
  const t = await startProviderApp(kind, options);
  const client = await registerClient(t, {
    first_party: true,
    grant_types: ['authorization_code', 'refresh_token'],
    token_endpoint_auth_method: 'client_secret_post',
    redirect_uris: [REDIRECT],
    scopes: ['openid', 'email', 'profile', 'offline_access'],
  });
  const { email, password, user } = await registerUser(t.api);
  return { t, client, browser: await pageSignIn(t.baseUrl, email, password), userId: user.id };
}

/** A code for `scope`, made through the hosted pages, with its PKCE verifier. */
async function makeCode(f: Fixture, scope: string): Promise<{ code: string; verifier: string }> {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const params = { client_id: f.client.client_id, response_type: 'code', redirect_uri: REDIRECT, scope, code_challenge: challenge, code_challenge_method: 'S256', prompt: 'consent' };
  const { callback } = await followAuthorization(f.browser, `${f.t.issuer}/oidc/auth?${new URLSearchParams(params)}`, REDIRECT);
  assert.ok(callback, 'the authorization ends at the redirect URI');
  return { code: callback.searchParams.get('code')!, verifier };
}

async function token(f: Fixture, form: Record<string, string>): Promise<{ status: number; body: Record<string, any> }> {
  const response = await fetch(`${f.t.issuer}/oidc/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: f.client.client_id, client_secret: f.client.client_secret!, ...form }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

const exchange = (f: Fixture, { code, verifier }: { code: string; verifier: string }) =>
  token(f, { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT });

async function userinfo(f: Fixture, accessToken: string): Promise<{ status: number; body: Record<string, any> | undefined }> {
  const response = await fetch(`${f.t.issuer}/oidc/me`, { headers: { authorization: `Bearer ${accessToken}` } });
  return { status: response.status, body: response.ok ? ((await response.json()) as Record<string, any>) : undefined };
}

const modelRows = (f: Fixture, model: string) => f.t.app.ctx.db.selectFrom('oidc_models').select(['id', 'grant_id', 'consumed_at']).where('model', '=', model);

/** One success, the others invalid_grant. */
function assertOneWinner(results: Array<{ status: number; body: Record<string, any> }>): void {
  assert.deepEqual(results.map((r) => r.status).sort(), [200, ...results.slice(1).map(() => 400)], JSON.stringify(results.map((r) => r.body)));
  for (const loser of results.filter((r) => r.status !== 200)) assert.equal(loser.body.error, 'invalid_grant');
}

for (const kind of DATABASE_KINDS) {
  describe(`OpenID Provider: token endpoint writes together, reads ahead (${kind})`, () => {
    let f: Fixture;
    before(async () => {
      f = await setUp(kind);
    });
    after(async () => f?.t.close());

    test('a code raced by three exchanges buys tokens once; the losers save nothing', async () => {
      for (let round = 0; round < 3; round++) {
        const code = await makeCode(f, 'openid email');
        const { grant_id: grantId } = await modelRows(f, 'AuthorizationCode').where('id', '=', code.code).executeTakeFirstOrThrow();
        // The pages give a user one grant per client: the codes of every round share it.
        const accessTokens = async () => (await modelRows(f, 'AccessToken').where('grant_id', '=', grantId).execute()).length;
        const before = await accessTokens();
        assertOneWinner(await Promise.all([exchange(f, code), exchange(f, code), exchange(f, code)]));
        const saved = (await accessTokens()) - before;
        assert.ok(saved <= 1, `round ${round}: ${saved} access tokens saved for one code`);
      }
    });

    test('a refresh token raced by three refreshes rotates once; the losers save nothing', async () => {
      for (let round = 0; round < 3; round++) {
        const first = await exchange(f, await makeCode(f, 'openid email offline_access'));
        assert.equal(first.status, 200);
        const { grant_id: grantId } = await modelRows(f, 'RefreshToken').where('id', '=', first.body.refresh_token).executeTakeFirstOrThrow();
        const refresh = () => token(f, { grant_type: 'refresh_token', refresh_token: first.body.refresh_token });
        const count = async (model: string) => (await modelRows(f, model).where('grant_id', '=', grantId).execute()).length;
        const before = { refreshTokens: await count('RefreshToken'), accessTokens: await count('AccessToken') };
        assertOneWinner(await Promise.all([refresh(), refresh(), refresh()]));
        const saved = { refreshTokens: (await count('RefreshToken')) - before.refreshTokens, accessTokens: (await count('AccessToken')) - before.accessTokens };
        assert.ok(saved.refreshTokens <= 1 && saved.accessTokens <= 1, `round ${round}: saved ${JSON.stringify(saved)} for one rotation`);
      }
    });

    test('a code whose exchange fails after the checks (its user deactivated) is consumed all the same', async () => {
      const code = await makeCode(f, 'openid email');
      const users = f.t.app.ctx.db.updateTable('users').where('id', '=', f.userId);
      await users.set({ is_active: false }).execute();
      try {
        const refused = await exchange(f, code);
        assert.equal(refused.status, 400);
        assert.equal(refused.body.error, 'invalid_grant');
      } finally {
        await users.set({ is_active: true }).execute();
      }
      const row = await modelRows(f, 'AuthorizationCode').where('id', '=', code.code).executeTakeFirst();
      assert.ok(!row || row.consumed_at !== null, 'the code is spent (or gone with its grant)');
      const again = await exchange(f, code);
      assert.equal(again.status, 400, 'never exchanged afterwards');
    });

    test('nothing read ahead outlives its request: userinfo sees a renamed, then a deactivated user at once', async () => {
      const tokens = await exchange(f, await makeCode(f, 'openid email profile'));
      assert.equal(tokens.status, 200);
      const before = await userinfo(f, tokens.body.access_token);
      assert.equal(before.status, 200);
      const users = f.t.app.ctx.db.updateTable('users').where('id', '=', f.userId);
      await users.set({ name: 'Renamed Between Calls' }).execute();
      assert.equal((await userinfo(f, tokens.body.access_token)).body?.name, 'Renamed Between Calls');
      await users.set({ is_active: false }).execute();
      try {
        assert.equal((await userinfo(f, tokens.body.access_token)).status, 401);
      } finally {
        await users.set({ is_active: true }).execute();
      }
      assert.equal((await userinfo(f, tokens.body.access_token)).status, 200);
    });
  });
}

describe('OpenID Provider: statements per request (PostgreSQL)', { skip: DATABASE_KINDS.includes('postgres') ? false : 'TEST_DATABASE_URL is not set' }, () => {
  let f: Fixture;
  let counter: SqlCounter;
  before(async () => {
    const database = await createTestDatabase('postgres');
    counter = await startSqlCounter(database.url!);
    // The outbox's poll would add statements no request made.
    f = await setUp('postgres', { database: { ...database, env: { ...database.env, DATABASE_URL: counter.url } }, env: { OUTBOX_POLL_INTERVAL_MS: '600000' } });
  });
  after(async () => {
    await f?.t.close();
    await f?.t.database.drop();
    await counter?.close();
  });

  /** The fewest statements `request` took over three tries (a background job may add one now and then). */
  async function fewestStatements(request: () => Promise<void>): Promise<number> {
    let fewest = Infinity;
    for (let i = 0; i < 3; i++) {
      const before = counter.counts().statements;
      await request();
      fewest = Math.min(fewest, counter.counts().statements - before);
    }
    return fewest;
  }

  test('a code exchange with an ID token: two; a refresh: two; userinfo: one', async () => {
    const codes = [await makeCode(f, 'openid email'), await makeCode(f, 'openid email'), await makeCode(f, 'openid email')];
    assert.equal(await fewestStatements(async () => assert.equal((await exchange(f, codes.pop()!)).status, 200)), 2, 'code exchange');

    let refreshToken = (await exchange(f, await makeCode(f, 'openid email offline_access'))).body.refresh_token as string;
    let accessToken = '';
    const refresh = async () => {
      const refreshed = await token(f, { grant_type: 'refresh_token', refresh_token: refreshToken });
      assert.equal(refreshed.status, 200);
      ({ refresh_token: refreshToken, access_token: accessToken } = refreshed.body);
    };
    assert.equal(await fewestStatements(refresh), 2, 'refresh');
    assert.equal(await fewestStatements(async () => assert.equal((await userinfo(f, accessToken)).status, 200)), 1, 'userinfo');
  });
});
