// `npm test`, after tsc has type-checked and emitted src/, test/ and bench/ into .test-build/
// (tsconfig.test.json): runs every test/*.test.ts as its emitted .js, so no test process pays
// for tsx (about 1 s of CPU a file, and 0.7 s for each program a test starts).
//
//   node scripts/test.mjs [test/some.test.ts ...]
//
// The longest suites start first, so none of them is left running alone at the end.
import { existsSync, readdirSync, symlinkSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { run } from 'node:test';
import { spec } from 'node:test/reporters';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BUILD = join(ROOT, '.test-build');
// Two cores; a third suite runs while the others wait on child processes, timers and sockets.
const CONCURRENCY = Number(process.env.TEST_CONCURRENCY ?? 3);

// What the code finds by relative path from src/ or test/ (migrations, bin/, node_modules/.cache)
// is reached from .test-build/ as from the repository root.
for (const name of ['migrations', 'node_modules', 'bin', 'views', 'docs']) {
  const link = join(BUILD, name);
  if (!existsSync(link)) symlinkSync(join('..', name), link);
}
// Files the suites run or read that tsc does not emit (the PyJWT test's script).
for (const name of ['test/python']) {
  const link = join(BUILD, name);
  if (existsSync(join(ROOT, name)) && !existsSync(link)) symlinkSync(join('..', '..', name), link);
}

// Slowest first (wall time on the embedded database); anything not listed follows in name order.
const SLOWEST_FIRST = ['scale-out', 'retention', 'cli', 'shutdown', 'persistence', 'email-delivery', 'jobs', 'sessions', 'passwords'];
const weight = (file) => {
  const index = SLOWEST_FIRST.indexOf(file.replace(/^.*\//, '').replace(/\.test\.ts$/, ''));
  return index === -1 ? SLOWEST_FIRST.length : index;
};

const requested = process.argv.slice(2).map((file) => relative(ROOT, resolve(file)));
const sources = requested.length
  ? requested
  : readdirSync(join(ROOT, 'test')).filter((name) => name.endsWith('.test.ts')).sort().map((name) => `test/${name}`);
sources.sort((a, b) => weight(a) - weight(b));
// Only the emitted twins of today's sources: a deleted suite's stale .js is never run.
const files = sources.map((source) => {
  const emitted = join(BUILD, source.replace(/\.ts$/, '.js'));
  if (!existsSync(emitted)) throw new Error(`${emitted} is missing: run tsc -p tsconfig.test.json first`);
  return emitted;
});

const stream = run({ files, concurrency: CONCURRENCY });
stream.on('test:fail', () => {
  process.exitCode = 1;
});
stream.compose(new spec()).pipe(process.stdout);
