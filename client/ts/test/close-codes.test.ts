import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CLOSE_CODES as PROTOCOL_CLOSE_CODES, closeAction } from '../../../protocol/src/errors.js';
import type { ProtocolJson } from '../../../protocol/src/protocol-json.js';
import { CLOSE_CODES, closeCodeReconnects } from '../src/index.js';

// The shared table, as the Python SDK reads it: its test (tests/test_errors.py) makes the same checks.
const shared = JSON.parse(readFileSync(new URL('../../python/tickwire/protocol.json', import.meta.url), 'utf8')) as ProtocolJson;

/** Sample codes no table names: a few in each tickwire range, and elsewhere. */
function unknownSamples(): { code: number; reconnect: boolean }[] {
  const listed = new Set(shared.closeCodes.map((c) => c.code));
  const inRanges = shared.closeCodeRanges.flatMap((r) =>
    [r.first, r.first + 3, Math.floor((r.first + r.last) / 2), r.last]
      .filter((c) => !listed.has(c))
      .map((code) => ({ code, reconnect: r.reconnect })),
  );
  const outside = [999, 1004, 1015, 1016, 2000, 3000, 3499, 3500, 3999, 5000];
  const elsewhere = outside.map((code) => ({ code, reconnect: shared.unknownCloseCodeReconnects }));
  return [...inRanges, ...elsewhere];
}

describe('close-code policy', () => {
  it('is the protocol table itself, not a copy', () => {
    expect(CLOSE_CODES).toBe(PROTOCOL_CLOSE_CODES);
  });

  it('the SDK decides every code of protocol.json as the table says', () => {
    expect(shared.closeCodes.length).toBeGreaterThan(10);
    for (const c of shared.closeCodes) expect(closeCodeReconnects(c.code), `${c.code} ${c.name}`).toBe(c.reconnect);
  });

  it('the SDK decides unknown codes by their range, as protocol.json says', () => {
    const samples = unknownSamples();
    expect(samples.some((s) => s.reconnect) && samples.some((s) => !s.reconnect)).toBe(true);
    for (const s of samples) expect(closeCodeReconnects(s.code), String(s.code)).toBe(s.reconnect);
  });

  it('reconnects after a lost link (1006) and transient codes; not after client-fault or terminal codes', () => {
    const reconnect = [1001, 1005, 1006, 1011, 1012, 1013, 1014, 4000, 4001, 4002, 4008, 4029, 4499];
    for (const code of reconnect) expect(closeAction(code)).toBe('reconnect');
    for (const code of [1000, 1002, 1003, 1007, 1008, 1009, 1010, 4500, 4999]) expect(closeAction(code)).toBe('stop');
  });

  it('every code the gateway sends agrees with its range', () => {
    for (const c of Object.values(PROTOCOL_CLOSE_CODES)) {
      const range = shared.closeCodeRanges.find((r) => c.code >= r.first && c.code <= r.last);
      if (range) expect(c.reconnect, String(c.code)).toBe(range.reconnect);
    }
  });
});
