import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configMarkdown } from '../src/config/doc.js';
import { CLOSE_CODES, ERROR_CODES } from '../../protocol/src/errors.js';

const root = new URL('../..', import.meta.url);
const read = (p: string) => readFileSync(new URL(p, root), 'utf8');

function tableRows(doc: string, section: string): string[][] {
  const m = new RegExp(`<!-- ${section}:start -->([\\s\\S]*?)<!-- ${section}:end -->`).exec(doc);
  if (!m) throw new Error(`docs/protocol.md has no ${section} table`);
  return m[1]!
    .split('\n')
    .filter((l) => l.startsWith('|') && !/^\|[-| ]+\|$/.test(l))
    .slice(1)
    .map((l) => l.split('|').slice(1, -1).map((c) => c.trim().replace(/`/g, '')));
}

const yesNo = (b: boolean) => (b ? 'yes' : 'no');

describe('docs mirror the code', () => {
  const protocol = read('docs/protocol.md');

  it('every err code is documented with the same retry flag, and nothing else is', () => {
    const rows = tableRows(protocol, 'error-codes');
    const documented = Object.fromEntries(rows.map(([code, retry]) => [code, retry]));
    const expected = Object.fromEntries(Object.entries(ERROR_CODES).map(([code, spec]) => [code, yesNo(spec.reconnect)]));
    expect(documented).toEqual(expected);
  });

  it('every close code is documented with its number, name and reconnect flag, and nothing else is', () => {
    const rows = tableRows(protocol, 'close-codes');
    const documented = rows.map(([code, name, reconnect]) => ({ code: Number(code), name, reconnect }));
    const expected = Object.entries(CLOSE_CODES).map(([name, spec]) => ({ code: spec.code, name, reconnect: yesNo(spec.reconnect) }));
    expect(documented).toEqual(expected);
  });

  it('close codes are unique and in the ranges RFC 6455 allows', () => {
    const codes = Object.values(CLOSE_CODES).map((c) => c.code);
    expect(new Set(codes).size).toBe(codes.length);
    for (const c of codes) expect((c >= 1000 && c <= 1015) || (c >= 4000 && c <= 4999)).toBe(true);
  });

  it('docs/configuration.md is generated from the current schema (npm run docs:config)', () => {
    expect(read('docs/configuration.md')).toBe(configMarkdown());
  });
});
