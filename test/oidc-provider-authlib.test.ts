// A Python relying party, Authlib (Debian's python3-authlib, installed by .ci/run), completes
// authorization code + PKCE against Keyhold's OpenID Provider: its ID token verifies against
// the JWKS and userinfo answers (test/python/authlib_rp.py). Skips where Authlib is missing.
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { registerUser } from './helpers/fixtures.js';
import { followAuthorization, registerClient, startProviderApp, type ProviderApp } from './helpers/oidc-rp.js';
import { pageSignIn } from './helpers/page-client.js';

const SCRIPT = fileURLToPath(new URL('./python/authlib_rp.py', import.meta.url));
const REDIRECT = 'https://app.example.com/callback';

function findPython(): string | undefined {
  for (const candidate of ['/usr/bin/python3', 'python3']) {
    if (spawnSync(candidate, ['-c', 'import authlib, requests'], { stdio: 'ignore' }).status === 0) return candidate;
  }
  return undefined;
}
const python = findPython();

const run = (args: string[]) =>
  new Promise<string>((resolve, reject) => {
    // Authlib refuses plain http unless told it is a local development setup.
    execFile(python!, [SCRIPT, ...args], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, AUTHLIB_INSECURE_TRANSPORT: '1' } }, (err, stdout, stderr) =>
      err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
    );
  });

describe('Authlib (Python) signs in through Keyhold', { skip: python ? false : 'no python3 with Authlib (apt-get install python3-authlib python3-requests)' }, () => {
  let t: ProviderApp;
  before(async () => {
    t = await startProviderApp('pglite');
  });
  after(async () => t?.close());

  test('authorization code + PKCE, ID token verified from the JWKS, userinfo', async () => {
    const client = await registerClient(t, { first_party: true, grant_types: ['authorization_code'], token_endpoint_auth_method: 'client_secret_basic', redirect_uris: [REDIRECT], scopes: ['openid', 'email'] });
    const { email, password, user } = await registerUser(t.api);
    const common = [t.issuer, client.client_id, client.client_secret!, REDIRECT];
    const started = JSON.parse(await run(['authorize', ...common])) as { url: string; verifier: string; state: string };
    assert.match(started.url, /code_challenge_method=S256/);
    const { callback } = await followAuthorization(await pageSignIn(t.baseUrl, email, password), started.url, REDIRECT);
    assert.ok(callback, 'the provider sent the browser back with a code');
    const result = JSON.parse(await run(['exchange', ...common, callback.href, started.verifier, started.state])) as { claims: Record<string, unknown>; userinfo: Record<string, unknown> };
    assert.equal(result.claims.sub, user.id);
    assert.equal(result.userinfo.email, email);
  });
});
