// The import graph of src/ (every import, type-only ones too, as `madge --circular` counts
// them), read from the TypeScript sources with the compiler's own pre-processor: its cycles,
// the cycles between units (a feature module's folder, or a top-level file or folder of src/),
// and who imports app.ts. Used by test/import-cycles.test.ts.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** The repository root: the tests run from test/ and from .test-build/test/ alike. */
function repositoryRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'tsconfig.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('no tsconfig.json above the tests');
    dir = parent;
  }
  return dir;
}

const ROOT = repositoryRoot();
export type ImportGraph = Map<string, string[]>;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [path] : [];
  });
}

/** file (relative to the root) -> the src/ files it imports. */
export function importGraph(srcDir = join(ROOT, 'src')): ImportGraph {
  const files = sourceFiles(srcDir);
  const known = new Set(files);
  const graph: ImportGraph = new Map();
  for (const file of files) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const targets = new Set<string>();
    for (const { fileName } of importedFiles) {
      if (!fileName.startsWith('.')) continue;
      const target = resolve(dirname(file), fileName).replace(/\.js$/, '.ts');
      if (known.has(target)) targets.add(relative(ROOT, target));
    }
    graph.set(relative(ROOT, file), [...targets].sort());
  }
  return graph;
}

/** The strongly connected components with more than one file (or a file importing itself): each is a cycle. */
export function importCycles(graph: ImportGraph = importGraph()): string[][] {
  let index = 0;
  const indices = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (node: string): void => {
    indices.set(node, index);
    low.set(node, index);
    index++;
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!indices.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node)!, indices.get(next)!));
      }
    }
    if (low.get(node) === indices.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1 || (graph.get(node) ?? []).includes(node)) cycles.push(component.sort());
    }
  };
  for (const node of [...graph.keys()].sort()) if (!indices.has(node)) visit(node);
  return cycles;
}

/** Files of src/ that import src/app.ts (only the entry points server.ts and cli.ts may). */
export function importersOfApp(graph: ImportGraph = importGraph()): string[] {
  return [...graph].filter(([, targets]) => targets.includes('src/app.ts')).map(([file]) => file);
}

/**
 * The unit a file of src/ belongs to: its feature module's folder (`src/modules/<name>`), else
 * its first path segment under src/ (`src/plugins`, `src/lib`, `src/db`, `src/context.ts`).
 */
export function unitOf(file: string): string {
  const parts = file.split('/');
  if (parts[1] === 'modules' && parts.length > 3) return parts.slice(0, 3).join('/');
  return parts.slice(0, 2).join('/');
}

/** One unit importing another, and the file-level imports that make it. */
export interface UnitEdge {
  from: string;
  to: string;
  imports: string[];
}

/** The graph of units: unit -> the units it imports, and each edge's file-level imports. */
export function unitGraph(graph: ImportGraph = importGraph()): { units: ImportGraph; edges: UnitEdge[] } {
  const edges = new Map<string, UnitEdge>();
  const units: ImportGraph = new Map();
  for (const [file, targets] of graph) {
    const from = unitOf(file);
    if (!units.has(from)) units.set(from, []);
    for (const target of targets) {
      const to = unitOf(target);
      if (to === from) continue;
      const key = `${from} -> ${to}`;
      if (!edges.has(key)) {
        edges.set(key, { from, to, imports: [] });
        units.get(from)!.push(to);
      }
      edges.get(key)!.imports.push(`${file} imports ${target}`);
    }
  }
  for (const targets of units.values()) targets.sort();
  return { units, edges: [...edges.values()] };
}

/** A cycle of units (a strongly connected component) and the edges between its members. */
export interface UnitCycle {
  units: string[];
  edges: UnitEdge[];
}

/** The cycles between units: modules depend downwards only when there is none. */
export function unitCycles(graph: ImportGraph = importGraph()): UnitCycle[] {
  const { units, edges } = unitGraph(graph);
  return importCycles(units).map((members) => ({
    units: members,
    edges: edges.filter((edge) => members.includes(edge.from) && members.includes(edge.to)),
  }));
}

/** The cycles in words, with the file-level imports of each edge (for a failing test). */
export function describeUnitCycles(cycles: UnitCycle[]): string {
  return cycles
    .map((cycle) => [
      `cycle: ${cycle.units.join(', ')}`,
      ...cycle.edges.flatMap((edge) => [`  ${edge.from} -> ${edge.to}`, ...edge.imports.map((line) => `    ${line}`)]),
    ].join('\n'))
    .join('\n');
}
