// `npm start`'s prestart: compile src/ into dist/ only when dist/ is missing or older than a
// source, so a start is `node dist/server.js` and not a full tsc run (28 s against 8 s to the
// first /healthz on a loaded machine). The first start after `npm ci` builds once.
//
//   node scripts/build-if-stale.mjs            build if stale
//   node scripts/build-if-stale.mjs --check [root]   print "stale" or "fresh", build nothing
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Newest modification time (ms) of the files under `dir`, recursively; 0 when there are none. */
function newestUnder(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestUnder(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** dist/ is stale when its entry point is missing or older than any source or the compiler's settings. */
export function isBuildStale(root) {
  const entry = join(root, 'dist', 'server.js');
  if (!existsSync(entry)) return true;
  const built = statSync(entry).mtimeMs;
  const inputs = [newestUnder(join(root, 'src')), ...['tsconfig.json', 'package-lock.json'].map((name) => (existsSync(join(root, name)) ? statSync(join(root, name)).mtimeMs : 0))];
  return Math.max(...inputs) > built;
}

const args = process.argv.slice(2);
if (args[0] === '--check') {
  process.stdout.write(`${isBuildStale(args[1] ?? fileURLToPath(new URL('..', import.meta.url))) ? 'stale' : 'fresh'}\n`);
} else {
  const root = fileURLToPath(new URL('..', import.meta.url));
  if (isBuildStale(root)) {
    process.stderr.write('keyhold: dist/ is missing or older than src/: building once (npm run build)\n');
    const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' });
    process.exit(tsc.status ?? 1);
  }
}
