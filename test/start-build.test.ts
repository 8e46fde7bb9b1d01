// `npm start` compiles only when dist/ is stale (scripts/build-if-stale.mjs as prestart), so a
// start is `node dist/server.js`, not a tsc run each time.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { repoPath } from './helpers/repo-root.js';

const script = repoPath('scripts', 'build-if-stale.mjs');
const run = (args: string[]) => spawnSync(process.execPath, [script, ...args], { encoding: 'utf8' });

async function project(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'keyhold-build-'));
  await mkdir(join(root, 'src', 'modules'), { recursive: true });
  await writeFile(join(root, 'src', 'modules', 'a.ts'), 'export {};\n');
  await writeFile(join(root, 'tsconfig.json'), '{}\n');
  return root;
}

async function setTime(path: string, secondsAgo: number): Promise<void> {
  const time = new Date(Date.now() - secondsAgo * 1000);
  await utimes(path, time, time);
}

describe('npm start: build once', () => {
  it('start runs dist/server.js, and prestart is the staleness check', async () => {
    const { scripts } = JSON.parse(await readFile(repoPath('package.json'), 'utf8')) as { scripts: Record<string, string> };
    assert.equal(scripts.start, 'node dist/server.js');
    assert.equal(scripts.prestart, 'node scripts/build-if-stale.mjs');
  });

  it('dist/ is stale when missing or older than any source or tsconfig.json, fresh otherwise', async () => {
    const root = await project();
    try {
      assert.equal(run(['--check', root]).stdout, 'stale\n');
      await mkdir(join(root, 'dist'));
      await writeFile(join(root, 'dist', 'server.js'), '');
      await setTime(join(root, 'src', 'modules', 'a.ts'), 60);
      await setTime(join(root, 'tsconfig.json'), 60);
      assert.equal(run(['--check', root]).stdout, 'fresh\n');
      await setTime(join(root, 'src', 'modules', 'a.ts'), 0);
      await setTime(join(root, 'dist', 'server.js'), 30);
      assert.equal(run(['--check', root]).stdout, 'stale\n', 'a source edited after the build');
      await setTime(join(root, 'src', 'modules', 'a.ts'), 60);
      await setTime(join(root, 'tsconfig.json'), 0);
      assert.equal(run(['--check', root]).stdout, 'stale\n', 'compiler settings changed after the build');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('with a fresh dist/, prestart does not run the compiler (a copy of the script without TypeScript installed)', async () => {
    const root = await project();
    try {
      await mkdir(join(root, 'scripts'));
      await writeFile(join(root, 'scripts', 'build-if-stale.mjs'), await readFile(script));
      await mkdir(join(root, 'dist'));
      await writeFile(join(root, 'dist', 'server.js'), '');
      await setTime(join(root, 'src', 'modules', 'a.ts'), 60);
      await setTime(join(root, 'tsconfig.json'), 60);
      const fresh = spawnSync(process.execPath, [join(root, 'scripts', 'build-if-stale.mjs')], { encoding: 'utf8' });
      assert.equal(fresh.status, 0, fresh.stderr);
      assert.equal(fresh.stderr, '');
      // Stale, the same copy reaches for tsc (absent here), which shows the fresh run skipped it.
      await setTime(join(root, 'dist', 'server.js'), 120);
      const stale = spawnSync(process.execPath, [join(root, 'scripts', 'build-if-stale.mjs')], { encoding: 'utf8' });
      assert.notEqual(stale.status, 0);
      assert.match(stale.stderr, /building once/);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
