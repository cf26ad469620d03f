import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/**
 * The graph of relative imports among the TypeScript sources under some folders, for the cycle
 * check. Type-only imports count: they tie modules together for the reader even when erased.
 */

const SPECIFIER = [
  /\b(?:import|export)\s+(?:type\s+)?[^'";]*?\bfrom\s*['"](\.{1,2}\/[^'"]+)['"]/g,
  /\bimport\s*['"](\.{1,2}\/[^'"]+)['"]/g,
  /\bimport\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g,
];

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return tsFiles(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** Comments may quote import lines (examples in doc comments); they are not edges. */
function stripComments(src: string): string {
  return src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
}

/** Module (repo-relative path) -> the modules of `roots` it imports. */
export function importGraph(repo: string, roots: string[]): Map<string, string[]> {
  const files = roots.flatMap((r) => tsFiles(join(repo, r)));
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const src = stripComments(readFileSync(file, 'utf8'));
    const deps = new Set<string>();
    for (const re of SPECIFIER) {
      for (const m of src.matchAll(re)) {
        const target = resolve(dirname(file), m[1]).replace(/\.js$/, '.ts');
        if (known.has(target)) deps.add(relative(repo, target));
      }
    }
    graph.set(relative(repo, file), [...deps].sort());
  }
  return graph;
}

/**
 * One cycle per strongly connected component with more than one module (or a module importing
 * itself), as the path that closes it, starting at its alphabetically first module: stable, so a
 * test can compare against a list.
 */
export function importCycles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let next = 0;
  const connect = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    for (let w = stack.pop()!; ; w = stack.pop()!) {
      onStack.delete(w);
      component.push(w);
      if (w === v) break;
    }
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) components.push(component.sort());
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) connect(v);
  return components.map((c) => closingPath(graph, new Set(c), c[0])).sort((a, b) => a[0].localeCompare(b[0]));
}

/** Shortest path from `start` back to itself inside one component (breadth first). */
function closingPath(graph: Map<string, string[]>, within: Set<string>, start: string): string[] {
  const from = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of graph.get(v) ?? []) {
      if (!within.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let u = v; u !== start; u = from.get(u)!) path.splice(1, 0, u);
        return [...path, start];
      }
      if (!from.has(w)) {
        from.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}
