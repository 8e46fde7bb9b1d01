// The repository's root, from a suite run as source (test/) or as emitted JavaScript
// (.test-build/test/): the nearest folder up with a package.json.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('no package.json above the tests');
    dir = parent;
  }
  return dir;
}

export const repoPath = (...parts: string[]): string => join(repoRoot(), ...parts);
