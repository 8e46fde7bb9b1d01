// The independent checker: scim2-tester (Python; wheels in ../shared/vendor/scim2-wheels, see
// .ci/run) runs its whole suite (discovery, create, read, list, query attributes, replace,
// PATCH add/replace/remove, delete, unknown URLs) against /scim/v2 on both databases and must
// report no ERROR or CRITICAL. Installs it into .scim2-venv when absent (scripts/
// install-scim2-tester.sh); skips with the reason where that cannot be done.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestApp } from './helpers/app.js';
import { DATABASE_KINDS } from './helpers/database.js';
import { registerAndSignIn } from './helpers/fixtures.js';

// Run from .test-build/test/: the repository is two levels up; test/python is linked in.
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const script = [fileURLToPath(new URL('./python/scim_conformance.py', import.meta.url))].find((p) => existsSync(p));
const checkerPython = (): string | undefined =>
  [process.env.SCIM2_TESTER_PYTHON, `${repoRoot}.scim2-venv/bin/python`].find((p): p is string => !!p && existsSync(p));
const importable = (python: string | undefined): boolean =>
  python !== undefined && spawnSync(python, ['-c', 'import scim2_tester, scim2_client, httpx'], { encoding: 'utf8' }).status === 0;
// Not there yet: install it from the vendored wheels (scripts/install-scim2-tester.sh, as .ci/run
// does), once; where it cannot be (no python3, no wheels, no index), the reason goes in the skip.
let installFailure = '';
if (!process.env.SCIM2_TESTER_PYTHON && !importable(checkerPython())) {
  const install = spawnSync('bash', [`${repoRoot}scripts/install-scim2-tester.sh`], { encoding: 'utf8', timeout: 300_000 });
  if (install.status !== 0) installFailure = (install.stderr || install.error?.message || '').trim().split('\n').pop() ?? '';
}
const python = checkerPython();
const skip = !script
  ? 'test/python/scim_conformance.py not found'
  : !importable(python)
    ? `scim2-tester is not installed and could not be (${installFailure || 'see scripts/install-scim2-tester.sh'}); skipping the conformance run`
    : false;

for (const kind of DATABASE_KINDS) {
  describe(`SCIM conformance: scim2-tester (${kind})`, { skip }, () => {
    let t: TestApp;
    let token: string;

    before(async () => {
      t = await startTestApp(kind);
      const owner = await registerAndSignIn(t.api, { name: 'Directory Owner' });
      const created = await t.api.post('/accounts/me/scim-tokens', { description: 'scim2-tester' }, owner.accessToken);
      assert.equal(created.status, 201, JSON.stringify(created.body));
      token = created.body.token;
    });
    after(() => t.close());

    it('reports no ERROR or CRITICAL', async () => {
      const run = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(python!, [script!, `${t.baseUrl}/scim/v2`, token], { stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        child.on('close', (status) => resolve({ status, stdout, stderr }));
      });
      const failures = run.stdout.split('\n').filter((line) => /^(ERROR|CRITICAL) /.test(line));
      assert.equal(run.status, 0, `scim2-tester failed:\n${failures.join('\n') || run.stdout}\n${run.stderr.slice(-2000)}`);
      assert.match(run.stdout, /failed: 0/);
    });
  });
}
