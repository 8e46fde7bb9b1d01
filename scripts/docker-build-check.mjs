// The Dockerfile's steps without a container runtime: copy what the image copies (tracked files
// only) into a clean folder, run the build stage's commands there (npm ci, npm run build, npm
// prune --omit=dev), lay out the runtime stage's files, start `node dist/server.js` from it
// and wait for /healthz. Proves the image's file list and production dependencies suffice.
//
//   node scripts/docker-build-check.mjs      (npm run docker:check; a few minutes on 2 cores)
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const work = mkdtempSync(join(tmpdir(), 'keyhold-image-'));
const build = join(work, 'build');
const image = join(work, 'image');
const tracked = execFileSync('git', ['ls-files'], { cwd: ROOT, encoding: 'utf8' }).split('\n').filter(Boolean);

/** `COPY a b ./dest` of one stage (without --from): the tracked files under each source. */
function copyStage(stage, target) {
  for (const line of stage.split('\n')) {
    const match = /^COPY (?!--from)(.+)$/.exec(line.trim());
    if (!match) continue;
    const parts = match[1].split(/\s+/);
    const dest = parts.pop();
    for (const source of parts) {
      const files = tracked.filter((file) => file === source || file.startsWith(`${source}/`));
      if (files.length === 0) throw new Error(`Dockerfile copies ${source}, which is not in the repository`);
      for (const file of files) {
        const to = dest.endsWith('/') && parts.length > 1 ? join(target, dest, file) : join(target, dest === './' ? file : dest.replace(/^\.\//, ''), file.slice(source.length));
        mkdirSync(dirname(to), { recursive: true });
        cpSync(join(ROOT, file), to);
      }
    }
  }
}

const run = (command, args, cwd) => {
  process.stdout.write(`$ ${command} ${args.join(' ')}\n`);
  execFileSync(command, args, { cwd, stdio: 'inherit' });
};

const [buildStage, runStage] = dockerfile.split(/^FROM /m).slice(1);
try {
  mkdirSync(build, { recursive: true });
  copyStage(buildStage, build);
  for (const line of buildStage.split('\n')) {
    const step = /^RUN (.+)$/.exec(line.trim());
    if (step) run('sh', ['-c', step[1]], build);
  }
  mkdirSync(image, { recursive: true });
  for (const name of ['package.json', 'node_modules', 'dist']) cpSync(join(build, name), join(image, name), { recursive: true });
  copyStage(runStage, image);
  if (JSON.stringify(JSON.parse(readFileSync(join(image, 'package.json'), 'utf8')).devDependencies ?? {}) !== '{}') {
    const dev = execFileSync('npm', ['ls', '--omit=dev', '--depth=0', '--json'], { cwd: image, encoding: 'utf8' });
    if (/"tsx"|"typescript"/.test(dev)) throw new Error('development dependencies were not pruned');
  }
  const port = await new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port: free } = probe.address();
      probe.close(() => resolve(free));
    });
  });
  const dataDir = join(work, 'data');
  const server = spawn(process.execPath, ['dist/server.js'], { cwd: image, env: { PATH: process.env.PATH, NODE_ENV: 'production', HOST: '127.0.0.1', PORT: String(port), DATA_DIR: dataDir, LOG_LEVEL: 'warn' }, stdio: 'inherit' });
  let healthy = false;
  for (let i = 0; i < 900 && !healthy; i++) {
    healthy = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false);
    if (!healthy) await new Promise((r) => setTimeout(r, 200));
  }
  server.kill('SIGTERM');
  await new Promise((resolve) => server.once('exit', resolve));
  if (!healthy) throw new Error('the image layout did not answer /healthz');
  process.stdout.write('docker build check: the build stage ran, and the runtime layout answered /healthz\n');
} finally {
  rmSync(work, { recursive: true, force: true });
}
