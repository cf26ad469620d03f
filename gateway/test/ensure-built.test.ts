import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureBuilt, INPUTS, OUTPUTS, STAMP, staleness } from '../../scripts/ensure-built.mjs';

// Issue 17 point 4: `npm start` rebuilt everything (15–40 s) before every start, even with nothing changed.
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const SCRIPT = join(REPO, 'scripts/ensure-built.mjs');

/** Explicit mtimes (seconds apart) instead of waiting for the clock: the decision depends only on their order. */
const T0 = new Date('2026-01-01T00:00:00Z');
const at = (s: number) => new Date(T0.getTime() + s * 1000);

function put(root: string, rel: string, text: string, when: Date): void {
  const p = join(root, rel);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, text);
  utimesSync(p, when, when);
}

/** A checkout whose every file and directory is dated `when`. */
function checkout(root: string, when: Date): void {
  put(root, 'gateway/src/main.ts', 'export {};\n', when);
  put(root, 'gateway/src/config/schema.ts', 'export {};\n', when);
  put(root, 'web/board.ts', 'export {};\n', when);
  put(root, 'tsconfig.json', '{}\n', when);
  put(root, 'package.json', '{}\n', when);
  for (const d of ['gateway/src/config', 'gateway/src', 'gateway', 'web']) utimesSync(join(root, d), when, when);
}

function built(root: string, when: Date): void {
  for (const o of OUTPUTS) put(root, o, 'built\n', when);
  put(root, STAMP, 'stamp\n', when);
}

describe('scripts/ensure-built.mjs: build only when the sources changed', () => {
  let root: string;
  let builds: number;
  const build = () => {
    builds++;
    return true;
  };
  const quiet = { log: () => {} };
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'tickwire-ensure-built-'));
    builds = 0;
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('fresh build: no build', () => {
    checkout(root, at(0));
    built(root, at(10));
    expect(staleness(root)).toEqual({ stale: false });
    expect(ensureBuilt(root, { build, ...quiet })).toBe(false);
    expect(builds).toBe(0);
  });

  it('a touched source: builds, naming it', () => {
    checkout(root, at(0));
    built(root, at(10));
    put(root, 'gateway/src/config/schema.ts', 'export const x = 1;\n', at(20));
    expect(staleness(root)).toEqual({ stale: true, reason: 'gateway/src/config/schema.ts changed since the last build' });
    const logged: string[] = [];
    expect(ensureBuilt(root, { build, log: (m) => logged.push(m) })).toBe(true);
    expect(builds).toBe(1);
    expect(logged.join('\n')).toContain('gateway/src/config/schema.ts');
  });

  it('a touched web page, tsconfig.json or package.json: builds', () => {
    for (const rel of ['web/board.ts', 'tsconfig.json', 'package.json']) {
      checkout(root, at(0));
      built(root, at(10));
      put(root, rel, '// changed\n', at(20));
      expect(staleness(root)).toMatchObject({ stale: true });
    }
  });

  it('a deleted source (only its directory changes): builds', () => {
    checkout(root, at(0));
    built(root, at(10));
    unlinkSync(join(root, 'gateway/src/config/schema.ts'));
    utimesSync(join(root, 'gateway/src/config'), at(20), at(20));
    expect(staleness(root)).toMatchObject({ stale: true, reason: expect.stringContaining('gateway/src/config') });
  });

  it('dist missing: builds, stamps, and the next run does not build', () => {
    checkout(root, at(0));
    expect(staleness(root)).toMatchObject({ stale: true, reason: expect.stringContaining('missing') });
    const make = (r: string) => {
      builds++;
      for (const o of OUTPUTS) put(r, o, 'built\n', new Date());
      return true;
    };
    expect(ensureBuilt(root, { build: make, ...quiet })).toBe(true);
    expect(ensureBuilt(root, { build: make, ...quiet })).toBe(false);
    expect(builds).toBe(1);
  });

  it('one output gone (dist/web removed) with a stamp: builds', () => {
    checkout(root, at(0));
    built(root, at(10));
    rmSync(join(root, 'dist/web'), { recursive: true });
    expect(ensureBuilt(root, { build, ...quiet })).toBe(true);
    expect(builds).toBe(1);
  });

  it('a failed build throws and leaves no stamp, so the next start builds again', () => {
    checkout(root, at(0));
    for (const o of OUTPUTS) put(root, o, 'half built\n', at(5));
    expect(() => ensureBuilt(root, { build: () => false, ...quiet })).toThrow(/build failed/);
    expect(staleness(root)).toMatchObject({ stale: true, reason: 'no record of a successful build' });
  });

  it('a source saved during the build is newer than the stamp (stamped with the build start)', () => {
    checkout(root, at(0));
    const saveDuringBuild = (r: string) => {
      for (const o of OUTPUTS) put(r, o, 'built\n', new Date());
      put(r, 'gateway/src/main.ts', 'export const late = 1;\n', new Date(Date.now() + 1000));
      return true;
    };
    expect(ensureBuilt(root, { build: saveDuringBuild, ...quiet })).toBe(true);
    expect(staleness(root)).toMatchObject({ stale: true, reason: 'gateway/src/main.ts changed since the last build' });
  });
});

describe('npm start wiring', () => {
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { scripts: Record<string, string> };

  it('prestart runs the staleness check, not an unconditional build', () => {
    expect(pkg.scripts.prestart).toBe('node scripts/ensure-built.mjs');
    expect(pkg.scripts.build).toContain('tsc -p tsconfig.json');
  });

  it('every directory tsc compiles is an input of the check', () => {
    const tsconfig = JSON.parse(readFileSync(join(REPO, 'tsconfig.json'), 'utf8')) as { include: string[] };
    for (const dir of tsconfig.include) expect(INPUTS).toContain(dir);
    expect(INPUTS).toEqual(expect.arrayContaining(['web', 'tsconfig.json', 'package.json', 'scripts/build-web.mjs']));
  });

  it('as a CLI: runs `npm run build` when stale, then nothing once fresh', () => {
    const root = mkdtempSync(join(tmpdir(), 'tickwire-ensure-built-cli-'));
    try {
      checkout(root, at(0));
      // The project's own build would take 15–40 s; this one just writes the outputs and counts.
      const make = [
        `const fs = require('fs'), path = require('path');`,
        `for (const o of ${JSON.stringify(OUTPUTS)}) { fs.mkdirSync(path.dirname(o), { recursive: true }); fs.writeFileSync(o, 'x'); }`,
        `fs.appendFileSync('builds', 'b');`,
      ].join('\n');
      writeFileSync(join(root, 'make.cjs'), make);
      put(root, 'package.json', JSON.stringify({ name: 'x', private: true, scripts: { build: 'node make.cjs' } }), at(0));
      mkdirSync(join(root, 'scripts'));
      copyFileSync(SCRIPT, join(root, 'scripts/ensure-built.mjs'));
      utimesSync(join(root, 'scripts/ensure-built.mjs'), at(0), at(0));
      const run = () => spawnSync(process.execPath, ['scripts/ensure-built.mjs'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
      const first = run();
      expect(first.status).toBe(0);
      expect(first.stderr).toMatch(/building \(dist\/gateway\/src\/main\.js is missing\)/);
      const second = run();
      expect(second.status).toBe(0);
      expect(second.stderr).not.toContain('building');
      expect(readFileSync(join(root, 'builds'), 'utf8')).toBe('b');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
