// How a test starts Keyhold's own programs (the server, the command line) in a child process.
// `npm test` runs the suites as JavaScript that tsc emitted once (scripts/test.mjs), so a child
// runs the same emitted src/ without tsx (about 0.7 s of CPU saved per process); a suite run
// on its own through tsx (`node --import tsx --test test/x.test.ts`) starts src/*.ts through tsx.
import { fileURLToPath } from 'node:url';

/** True when this file is the emitted .js of an `npm test` build, not the .ts source. */
export const RUNNING_EMITTED = import.meta.url.endsWith('.js');

/** Node arguments that run src/<name> (before the program's own arguments). */
export function programArgs(name: 'server' | 'cli'): string[] {
  if (RUNNING_EMITTED) return [fileURLToPath(new URL(`../../src/${name}.js`, import.meta.url))];
  return ['--import', 'tsx', fileURLToPath(new URL(`../../src/${name}.ts`, import.meta.url))];
}
