// The README's curl walk (register, login, me, refresh, logout) runs as written against a
// freshly started server, with only its address changed to this test's port.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { programArgs } from './helpers/entry.js';
import { freePort } from './helpers/ports.js';
import { repoPath } from './helpers/repo-root.js';

const missing = ['curl', 'jq', 'bash'].filter((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0);

/** The README's block that follows "## A first session with curl". */
async function readmeWalk(): Promise<string> {
  const readme = await readFile(repoPath('README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## A first session with curl'));
  const block = /```sh\n([\s\S]*?)```/.exec(section);
  assert.ok(block, 'the README has a curl walk');
  return block[1] ?? '';
}

describe('README', () => {
  it('the curl walk runs as written', { skip: missing.length ? `needs ${missing.join(', ')}` : false, timeout: 120_000 }, async () => {
    const script = await readmeWalk();
    assert.match(script, /API=http:\/\/127\.0\.0\.1:8000\/api\/v1/);
    const dataDir = await mkdtemp(join(tmpdir(), 'keyhold-readme-'));
    const port = await freePort();
    const child = spawn(process.execPath, programArgs('server'), {
      env: { PATH: process.env.PATH, PORT: String(port), DATA_DIR: dataDir, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    try {
      const base = `http://127.0.0.1:${port}`;
      let up = false;
      for (let i = 0; i < 600 && !up; i++) {
        up = await fetch(`${base}/healthz`).then((r) => r.ok, () => false);
        if (!up) await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(up, `server did not start: ${stderr}`);
      const run = spawnSync('bash', ['-euo', 'pipefail', '-c', script.replace('http://127.0.0.1:8000', base)], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
      assert.match(run.stdout, /"email": "ada@example.com"/);
      assert.match(run.stdout, /"message": "Successfully logged out"/);
      assert.match(run.stdout, /401\n$/, 'the access token stops working after logout');
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
