#!/usr/bin/env node
// The `keyhold` command. A built install runs dist/cli.js; a fresh clone (after `npm ci`,
// no build) runs src/cli.ts through tsx. KEYHOLD_CLI_FROM_SOURCE=1 forces the source, so a
// stale dist/ never hides an edit (the tests set it).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const built = new URL('../dist/cli.js', import.meta.url);
if (process.env.KEYHOLD_CLI_FROM_SOURCE !== '1' && existsSync(fileURLToPath(built))) {
  await import(built.href);
} else {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    process.stderr.write('keyhold: dist/cli.js is missing and tsx is not installed: run `npm run build` (or `npm ci`)\n');
    process.exit(1);
  }
  register();
  await import(new URL('../src/cli.ts', import.meta.url).href);
}
