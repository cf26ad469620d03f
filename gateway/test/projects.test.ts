import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVitest, type Vitest } from 'vitest/node';
import { TEST_ROOTS } from '../../vitest.config.js';
import { ROOT } from './support/process.js';

// vitest.config.ts sorts test files into projects by name; a file no glob takes would never run,
// and one two globs take would run twice (and maybe with the Kafka broker it does not need).

function testFiles(dir: string): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return []; // a root that does not exist (yet) holds no tests
  }
  return entries.flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : testFiles(p);
    return e.name.endsWith('.test.ts') ? [p] : [];
  });
}

describe('vitest projects', () => {
  let vitest: Vitest;
  beforeAll(async () => {
    // Only globbing: nothing runs, so the Kafka project's globalSetup is not started.
    vitest = await createVitest('test', { root: ROOT, watch: false, run: true }, {}, {});
  });
  afterAll(async () => {
    await vitest?.close();
  });

  it('every test file belongs to exactly one project', async () => {
    const specs = await vitest.globTestSpecifications();
    const owners = new Map<string, string[]>();
    for (const s of specs) {
      const file = relative(ROOT, s.moduleId);
      owners.set(file, [...(owners.get(file) ?? []), s.project.name]);
    }
    const onDisk = TEST_ROOTS.flatMap((r) => testFiles(join(ROOT, r))).map((f) => relative(ROOT, f));
    expect(onDisk.length).toBeGreaterThan(50);
    const wrong = onDisk.map((f) => [f, (owners.get(f) ?? []).sort().join(',')]).filter(([, o]) => o === '' || o.includes(','));
    expect(wrong).toEqual([]);
    expect(new Set(onDisk)).toEqual(new Set(owners.keys()));
  });

  it('sorts by name: *.kafka.test.ts, *.integration.test.ts, browser/, the rest unit', async () => {
    const specs = await vitest.globTestSpecifications();
    for (const s of specs) {
      const file = relative(ROOT, s.moduleId);
      const expected = file.startsWith('gateway/test/browser/')
        ? 'browser'
        : file.endsWith('.kafka.test.ts')
          ? 'kafka'
          : file.endsWith('.integration.test.ts')
            ? 'integration'
            : 'unit';
      expect(s.project.name, file).toBe(expected);
    }
  });

  it('only the kafka project starts the broker', () => {
    for (const p of vitest.projects) {
      const setups = [p.config.globalSetup].flat().map((g: string) => relative(ROOT, g));
      expect(setups, p.name).toEqual(p.name === 'kafka' ? ['gateway/test/support/kafka-global.ts'] : []);
    }
  });
});
