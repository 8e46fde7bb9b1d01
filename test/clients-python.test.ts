// keyhold-verify (clients/python) with pytest against a real Keyhold: verify_token and a small
// FastAPI backend whose routes depend on its get_current_active_user. Needs a python3 with
// PyJWT, cryptography, FastAPI, httpx and pytest (Debian: python3-jwt python3-cryptography
// python3-fastapi python3-httpx python3-pytest, installed by .ci/run).
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestApp } from './helpers/app.js';

const PACKAGE = fileURLToPath(new URL('../../clients/python/', import.meta.url));
const NEEDED = 'import jwt, cryptography, fastapi, httpx, pytest';

function findPython(): string | undefined {
  for (const candidate of ['/usr/bin/python3', 'python3']) {
    if (spawnSync(candidate, ['-c', NEEDED], { stdio: 'ignore' }).status === 0) return candidate;
  }
  return undefined;
}

const python = findPython();
const skip = python ? false : 'no python3 with PyJWT, cryptography, FastAPI, httpx and pytest (apt-get install python3-jwt python3-cryptography python3-fastapi python3-httpx python3-pytest)';

describe('keyhold-verify (Python) with pytest against a real Keyhold', { skip }, () => {
  let t: TestApp;
  before(async () => {
    // PyJWT checks exp against the real clock; the test clock starts at the real time.
    t = await startTestApp('pglite');
  });
  after(() => t?.close());

  it('passes its pytest suite', async () => {
    const env = {
      ...process.env,
      KEYHOLD_BASE_URL: t.baseUrl,
      KEYHOLD_ISSUER: 'keyhold',
      KEYHOLD_AUDIENCE: 'keyhold',
      KEYHOLD_JWKS_URL: `${t.baseUrl}/.well-known/jwks.json`,
      PYTHONDONTWRITEBYTECODE: '1',
    };
    // Asynchronously: pytest calls back into this very process's server.
    const result = await new Promise<{ code: number; output: string }>((resolve) => {
      execFile(python!, ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', 'tests'], { cwd: PACKAGE, env, encoding: 'utf8', timeout: 120_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, output: `${stdout}${stderr}` }),
      );
    });
    process.stdout.write(result.output.split('\n').map((line) => `# ${line}`).join('\n') + '\n');
    assert.equal(result.code, 0, result.output);
    assert.match(result.output, /\d+ passed/);
    assert.doesNotMatch(result.output, /skipped/);
  });
});
