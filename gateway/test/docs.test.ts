import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configMarkdown } from '../src/config/doc.js';
import { CLOSE_CODE_RANGES, CLOSE_CODES, ERROR_CODES, STANDARD_CLOSE_CODES, closeAction } from '../../protocol/src/errors.js';

const root = new URL('../..', import.meta.url);
const read = (p: string) => readFileSync(new URL(p, root), 'utf8');

function tableRows(doc: string, section: string): string[][] {
  const m = new RegExp(`<!-- ${section}:start -->([\\s\\S]*?)<!-- ${section}:end -->`).exec(doc);
  if (!m) throw new Error(`docs/protocol.md has no ${section} table`);
  return m[1]!
    .split('\n')
    .filter((l) => l.startsWith('|') && !/^\|[-| ]+\|$/.test(l))
    .slice(1)
    .map((l) =>
      l
        .split('|')
        .slice(1, -1)
        .map((c) => c.trim().replace(/`/g, '')),
    );
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

  it('every close code the gateway sends is documented in its table (reconnect or terminal), and nothing else is', () => {
    const documented = (section: string) => tableRows(protocol, section).map(([code, name]) => ({ code: Number(code), name }));
    const expected = (reconnect: boolean) =>
      Object.entries(CLOSE_CODES)
        .filter(([, spec]) => spec.reconnect === reconnect)
        .map(([name, spec]) => ({ code: spec.code, name }));
    expect(documented('close-codes-reconnect')).toEqual(expected(true));
    expect(documented('close-codes-terminal')).toEqual(expected(false));
  });

  it("the RFC 6455 codes and the ranges are documented with the policy's action", () => {
    const action = (b: boolean) => (b ? 'reconnect' : 'stop');
    const standard = tableRows(protocol, 'close-codes-standard').map(([code, name, act]) => ({ code: Number(code), name, act }));
    const standardExpected = Object.entries(STANDARD_CLOSE_CODES).map(([name, c]) => ({ code: c.code, name, act: action(c.reconnect) }));
    expect(standard).toEqual(standardExpected);
    const ranges = tableRows(protocol, 'close-code-ranges').map(([codes, act]) => ({ codes, act }));
    expect(ranges).toEqual(CLOSE_CODE_RANGES.map((r) => ({ codes: `${r.first}–${r.last}`, act: action(r.reconnect) })));
    for (const r of ranges) {
      const [first, last] = r.codes.split('–').map(Number) as [number, number];
      for (const code of [first, last]) expect(closeAction(code)).toBe(r.act);
    }
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
