/**
 * Issue 17 point 7: running the suite does not dirty a checkout. Results go to the ignored
 * bench/results/local/ unless the run is recorded (`--record` → bench/results/) or `--out` names a place.
 */
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCli } from '../src/suite/options.js';

const REPO = resolve(import.meta.dirname, '..', '..');
const RESULTS = join(REPO, 'bench', 'results');

describe('suite output directory (issue 17 pt 7)', () => {
  it('defaults to bench/results/local, which git ignores', () => {
    expect(parseCli([]).out).toBe(join(RESULTS, 'local'));
    expect(parseCli(['--quick', '--only', 'wire']).out).toBe(join(RESULTS, 'local'));
    // check-ignore exits 0 and prints the path only when a rule ignores it.
    const ignored = execFileSync('git', ['check-ignore', 'bench/results/local/2026-01-01-host.json'], { cwd: REPO, encoding: 'utf8' });
    expect(ignored.trim()).toBe('bench/results/local/2026-01-01-host.json');
  });

  it('--record writes to the tracked bench/results; --out names any directory', () => {
    expect(parseCli(['--record']).out).toBe(RESULTS);
    expect(parseCli(['--out', '/tmp/bench-x']).out).toBe('/tmp/bench-x');
    expect(() => parseCli(['--record', '--out', '/tmp/bench-x'])).toThrow(/--record and --out/);
  });
});
