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

  // Statements start a line; doc comments (" * import …") and strings do not. Type-only imports are
  // erased by the compiler, so they bring no code into a bundle and are not followed.
  const IMPORT = /^(?:import|export)\s(?!type\s)[^;]*?from\s+['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm;
  const specifiersOf = (text: string): string[] => [...text.matchAll(IMPORT)].map((m) => (m[1] ?? m[2])!);
  const PROTOCOL = '../../../protocol/src/';

  it.each(files)("%s imports only relative modules (its own, or the protocol's) and @msgpack/msgpack, and uses no Node globals", (f) => {
    const text = readFileSync(join(SRC, f), 'utf8');
    const specifiers = specifiersOf(text);
    if (f === 'client.ts') expect(specifiers).toContain('./connection.js'); // the scanner does see imports
    if (f === 'codec.ts') expect(specifiers).toContain('@msgpack/msgpack');
    for (const s of specifiers) {
      expect(s === '@msgpack/msgpack' || s.startsWith('./') || s.startsWith(PROTOCOL), `${f} imports ${s}`).toBe(true);
    }
    expect(text).not.toMatch(/\b(Buffer|process|require|__dirname)\b[.(]/);
  });

  it('the protocol modules the SDK imports are browser-safe too (transitively)', () => {
    const seen = new Set<string>();
    const visit = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(file, 'utf8');
      for (const s of specifiersOf(text)) {
        expect(s.startsWith('./'), `${file} imports ${s}`).toBe(true);
        visit(join(dirname(file), s.replace(/\.js$/, '.ts')));
      }
      expect(text, file).not.toMatch(/\b(Buffer|process|require|__dirname)\b[.(]/);
    };
    for (const f of files) {
      for (const s of specifiersOf(readFileSync(join(SRC, f), 'utf8'))) {
        if (s.startsWith(PROTOCOL)) visit(join(SRC, s.replace(/\.js$/, '.ts')));
      }
    }
    expect([...seen].map((p) => p.split('/').pop())).toContain('errors.ts');
  });
});
