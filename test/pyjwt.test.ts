// Another language verifies Keyhold's access tokens from the JWKS alone: Python's PyJWT, as the
// original product's backend would (test/python/verify_token.py). Needs a python3 with PyJWT
// and cryptography (Debian: python3-jwt python3-cryptography, installed by .ci/run).
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { SignJWT, decodeJwt } from 'jose';
import { startTestApp, type TestApp } from './helpers/app.js';
import { registerAndSignIn } from './helpers/fixtures.js';

const SCRIPT = fileURLToPath(new URL('./python/verify_token.py', import.meta.url));

/** The first python3 that has PyJWT and cryptography: Debian's packages live in /usr/bin's. */
function findPython(): string | undefined {
  for (const candidate of ['/usr/bin/python3', 'python3']) {
    const probe = spawnSync(candidate, ['-c', 'import jwt, cryptography'], { stdio: 'ignore' });
    if (probe.status === 0) return candidate;
  }
  return undefined;
}

const python = findPython();

describe('PyJWT verifies a Keyhold access token from the JWKS URL', { skip: python ? false : 'no python3 with PyJWT and cryptography (apt-get install python3-jwt python3-cryptography)' }, () => {
  let t: TestApp;
  before(async () => {
    // PyJWT checks exp against the real clock; the test clock starts at the real time.
    t = await startTestApp('pglite');
  });
  after(() => t?.close());

  // Asynchronously: the script fetches the JWKS from this very process.
  const verify = (token: string, issuer = 'keyhold') =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(python!, [SCRIPT, `${t.baseUrl}/.well-known/jwks.json`, issuer, 'keyhold', token], { encoding: 'utf8', timeout: 30_000 }, (err, stdout, stderr) =>
        resolve({ status: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });

  it('accepts a real access token and gives its claims', async () => {
    const u = await registerAndSignIn(t.api);
    const result = await verify(u.accessToken);
    assert.equal(result.status, 0, result.stderr);
    const claims = JSON.parse(result.stdout) as Record<string, unknown>;
    assert.equal(claims.sub, u.id);
    assert.equal(claims.type, 'access');
  });

  it('refuses a wrong issuer, a refresh token, an expired token and a forged signature', async () => {
    const u = await registerAndSignIn(t.api);
    assert.match((await verify(u.accessToken, 'someone-else')).stderr, /InvalidIssuerError/);
    // A refresh token is MACed by a key the JWKS never shows (docs/signing-keys.md): refused
    // before its typ is even read.
    assert.match((await verify(u.refreshToken)).stderr, /typ|Unable to find a signing key/);
    const [header, payload, signature] = u.accessToken.split('.') as [string, string, string];
    const flipped = `${header}.${payload}.${signature.startsWith('A') ? 'B' : 'A'}${signature.slice(1)}`;
    assert.match((await verify(flipped)).stderr, /InvalidSignatureError/);
    // Expired: signed by Keyhold's own current key with an exp in the past.
    const { listKeys } = await import('../src/modules/keys/keys.repo.js');
    const { createPrivateKey } = await import('node:crypto');
    const row = (await listKeys(t.app.ctx.db)).find((k) => k.state === 'current')!;
    const key = createPrivateKey(t.app.ctx.secrets.open(row.private_key!, `signing-key:${row.kid}`));
    const now = Math.floor(Date.now() / 1000);
    const expired = await new SignJWT({ ...decodeJwt(u.accessToken), iat: now - 1000, exp: now - 100 })
      .setProtectedHeader({ alg: 'ES256', kid: row.kid, typ: 'at+jwt' })
      .sign(key);
    assert.match((await verify(expired)).stderr, /ExpiredSignatureError/);
  });
});
