// Options objects past three parameters (STYLE.md; issue 25): every function in src/ takes at
// most three positional parameters, and the rest in one object. The only exceptions are the
// callbacks whose signature a library fixes, listed below by file and name with the library.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import ts from 'typescript';
import { repoRoot } from './helpers/repo-root.js';

/** Callbacks whose parameter list a library fixes: `file name` (anonymous: `(anonymous)`). */
const LIBRARY_FIXED: Record<string, string> = {
  'src/app.ts (anonymous)': "Fastify's onSend hook (request, reply, payload, done); the callback form, not async, on every request's path",
  'src/plugins/input-guard.ts refuseUnreadableBody': "Fastify's preParsing hook (request, reply, payload, done)",
  'src/plugins/lingering-close.ts (anonymous)': "Fastify's onSend hook (request, reply, payload, done)",
  'src/plugins/failover-store.ts incr': "@fastify/rate-limit's store interface incr(key, callback, timeWindow, max)",
  'src/plugins/openapi.ts (anonymous)': "@fastify/swagger's refResolver.buildLocalReference(json, baseUri, fragment, i)",
  'src/modules/oidc-provider/page-sources.ts userCodeInputSource': "oidc-provider's features.deviceFlow.userCodeInputSource(ctx, form, out, err)",
  'src/modules/oidc-provider/page-sources.ts userCodeConfirmSource': "oidc-provider's features.deviceFlow.userCodeConfirmSource(ctx, form, client, deviceInfo, userCode)",
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [path] : [];
  });
}

function longParameterLists(root: string): Array<{ where: string; name: string; count: number }> {
  const found: Array<{ where: string; name: string; count: number }> = [];
  for (const file of sourceFiles(join(root, 'src'))) {
    const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
    const visit = (node: ts.Node): void => {
      const isFunction =
        ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node) || ts.isArrowFunction(node) || ts.isFunctionExpression(node) || ts.isConstructorDeclaration(node);
      if (isFunction && node.parameters.length > 3) {
        const parent = node.parent;
        const name = node.name?.getText(source) ?? (parent && ts.isVariableDeclaration(parent) ? parent.name.getText(source) : '(anonymous)');
        const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
        found.push({ where: `${relative(root, file)}:${line}`, name, count: node.parameters.length });
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return found;
}

describe('parameter lists in src/', () => {
  const found = longParameterLists(repoRoot());
  const key = (row: { where: string; name: string }) => `${row.where.replace(/:\d+$/, '')} ${row.name}`;

  it('none takes more than three positional parameters, but for callbacks a library fixes', () => {
    const tooLong = found.filter((row) => !LIBRARY_FIXED[key(row)]).map((row) => `${row.count} ${row.where} ${row.name}`);
    assert.deepEqual(tooLong, [], `use an options object (or, for a library's callback, add it to LIBRARY_FIXED with the library):\n${tooLong.join('\n')}`);
  });

  it('every LIBRARY_FIXED entry still names such a callback', () => {
    const present = new Set(found.map(key));
    assert.deepEqual(Object.keys(LIBRARY_FIXED).filter((entry) => !present.has(entry)), []);
  });
});
