import { describe, expect, it } from 'vitest';
import { importCycles, importGraph } from './support/import-graph.js';
import { ROOT } from './support/process.js';

const ROOTS = ['gateway/src', 'protocol/src', 'feeds/src'];

/**
 * Known cycles between the folders (each as importCycles reports it: from its alphabetically
 * first folder back to itself), being removed on another branch. Between modules there are none.
 * Removed when branch i14-kinds lands (the embedded source imports feeds, feeds' replay imports
 * the gateway's config and record decoder); then this list is empty and stays so.
 */
const KNOWN_FOLDER_CYCLES: string[][] = [];

/** The module graph with each module replaced by the root folder it lives in. */
function folderGraph(graph: Map<string, string[]>): Map<string, string[]> {
  const folderOf = (m: string) => ROOTS.find((r) => m.startsWith(`${r}/`))!;
  const folders = new Map<string, Set<string>>(ROOTS.map((r) => [r, new Set()]));
  for (const [m, deps] of graph) {
    for (const d of deps) if (folderOf(d) !== folderOf(m)) folders.get(folderOf(m))!.add(folderOf(d));
  }
  return new Map([...folders].map(([f, deps]) => [f, [...deps].sort()]));
}

describe('import cycles', () => {
  const graph = importGraph(ROOT, ROOTS);

  it('reads the sources', () => {
    expect(graph.size).toBeGreaterThan(40);
    expect(graph.get('gateway/src/gateway.ts')).toContain('gateway/src/cluster/primary.ts');
  });

  it('finds a cycle, type-only imports included', () => {
    const g = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts']],
      ['d.ts', ['a.ts']],
    ]);
    expect(importCycles(g)).toEqual([['a.ts', 'b.ts', 'c.ts', 'a.ts']]);
  });

  it('none between the modules of gateway/src, protocol/src and feeds/src', () => {
    expect(importCycles(graph).map((c) => c.join(' -> '))).toEqual([]);
  });

  it('none between the folders beyond the known ones', () => {
    const known = KNOWN_FOLDER_CYCLES.map((c) => c.join(' -> '));
    expect(importCycles(folderGraph(graph)).map((c) => c.join(' -> '))).toEqual(known);
  });
});
