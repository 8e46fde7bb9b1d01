// Writes the server's OpenAPI document to clients/js/openapi.json and regenerates the client's
// types from it (clients/js/src/openapi.d.ts, by openapi-typescript), so @keyhold/client is
// typed from the document itself, never by hand. Run after changing a route's schema:
//
//   npm run clients:types
//
// test/clients-js.test.ts fails while the committed snapshot differs from what the server
// serves, naming this command.
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export async function servedOpenApiDocument(): Promise<string> {
  const app = await buildApp(loadConfig({ DATA_DIR: 'memory://', LOG_LEVEL: 'silent', PORT: '0' }));
  try {
    const reply = await app.inject({ method: 'GET', url: '/openapi.json' });
    return `${JSON.stringify(JSON.parse(reply.body), null, 2)}\n`;
  } finally {
    await app.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const document = `${ROOT}clients/js/openapi.json`;
  await writeFile(document, await servedOpenApiDocument());
  execFileSync(`${ROOT}node_modules/.bin/openapi-typescript`, [document, '-o', `${ROOT}clients/js/src/openapi.d.ts`], { stdio: 'inherit' });
}
