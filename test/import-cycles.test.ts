// Modules depend downwards only (issue 25): no import cycle in src/, type-only imports
// included (what `madge --circular` reports), and nothing but the entry points imports app.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { importCycles, importersOfApp, importGraph } from './helpers/import-graph.js';

describe('import graph of src/', () => {
  const graph = importGraph();

  it('reads the whole tree', () => {
    assert.ok(graph.size > 150, `${graph.size} files`);
    assert.ok(graph.get('src/app.ts')?.includes('src/http/ajv-formats.ts'));
  });

  it('has no import cycle', () => {
    assert.deepEqual(importCycles(graph), []);
  });

  it('finds a cycle when there is one', () => {
    const looped = new Map([['a.ts', ['b.ts']], ['b.ts', ['c.ts']], ['c.ts', ['a.ts']], ['d.ts', ['a.ts']]]);
    assert.deepEqual(importCycles(looped), [['a.ts', 'b.ts', 'c.ts']]);
  });

  it('lets only the entry points import app.ts', () => {
    assert.deepEqual(importersOfApp(graph).filter((file) => !['src/server.ts', 'src/cli.ts'].includes(file)), []);
  });
});
