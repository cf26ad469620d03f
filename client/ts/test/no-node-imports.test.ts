import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = join(dirname(fileURLToPath(import.meta.url)), '../src');

describe('the SDK core runs in browsers', () => {
  const files = readdirSync(SRC).filter((f) => f.endsWith('.ts'));

  it('has source files', () => {
    expect(files.length).toBeGreaterThan(5);
  });

  it.each(files)('%s imports only relative modules and @msgpack/msgpack, and uses no Node globals', (f) => {
    const text = readFileSync(join(SRC, f), 'utf8');
    // Statements start a line; doc comments (" * import …") and strings do not.
    const specifiers = [...text.matchAll(/^(?:import|export)\s[^;]*?from\s+['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm)].map((m) => m[1] ?? m[2]);
    if (f === 'client.ts') expect(specifiers).toContain('./connection.js'); // the scanner does see imports
    if (f === 'codec.ts') expect(specifiers).toContain('@msgpack/msgpack');
    for (const s of specifiers) expect(s === '@msgpack/msgpack' || s!.startsWith('./'), `${f} imports ${s}`).toBe(true);
    expect(text).not.toMatch(/\b(Buffer|process|require|__dirname)\b[.(]/);
  });
});
