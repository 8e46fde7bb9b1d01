// Modules depend downwards only (issue 25): no import cycle in src/, type-only imports
// included (what `madge --circular` reports); no cycle between units either (a unit is a
// feature module's folder, src/modules/<name>, or else a top-level file or folder of src/:
// the layering in docs/architecture.md); and nothing but the entry points imports app.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeUnitCycles, importCycles, importersOfApp, importGraph, unitCycles, unitOf } from './helpers/import-graph.js';

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

  it('has no cycle between modules (folders)', () => {
    const cycles = unitCycles(graph);
    assert.deepEqual(cycles.map((cycle) => cycle.units), [], `modules that import each other:\n${describeUnitCycles(cycles)}`);
  });

  it('names the units: a module\'s folder, else the first segment under src/', () => {
    assert.equal(unitOf('src/modules/auth/sign-in.ts'), 'src/modules/auth');
    assert.equal(unitOf('src/plugins/authenticate.ts'), 'src/plugins');
    assert.equal(unitOf('src/context.ts'), 'src/context.ts');
    assert.equal(unitOf('src/db/live-session.ts'), 'src/db');
  });

  it('finds a cycle between folders when there is one, with the imports that make it', () => {
    // No cycle between files: a.ts -> b.ts, c.ts -> a2.ts; but modules a and b import each other.
    const files = new Map<string, string[]>([
      ['src/modules/a/a.ts', ['src/modules/b/b.ts', 'src/lib/x.ts']],
      ['src/modules/a/a2.ts', []],
      ['src/modules/b/b.ts', ['src/lib/x.ts']],
      ['src/modules/b/c.ts', ['src/modules/a/a2.ts']],
      ['src/lib/x.ts', []],
      ['src/context.ts', ['src/modules/a/a.ts']],
    ]);
    assert.deepEqual(importCycles(files), []);
    const cycles = unitCycles(files);
    assert.deepEqual(cycles, [{
      units: ['src/modules/a', 'src/modules/b'],
      edges: [
        { from: 'src/modules/a', to: 'src/modules/b', imports: ['src/modules/a/a.ts imports src/modules/b/b.ts'] },
        { from: 'src/modules/b', to: 'src/modules/a', imports: ['src/modules/b/c.ts imports src/modules/a/a2.ts'] },
      ],
    }]);
    assert.match(describeUnitCycles(cycles), /src\/modules\/b -> src\/modules\/a\n {4}src\/modules\/b\/c\.ts imports src\/modules\/a\/a2\.ts/);
    files.set('src/modules/b/c.ts', []);
    assert.deepEqual(unitCycles(files), []);
  });

  it('lets only the entry points import app.ts', () => {
    assert.deepEqual(importersOfApp(graph).filter((file) => !['src/server.ts', 'src/cli.ts'].includes(file)), []);
  });
});
