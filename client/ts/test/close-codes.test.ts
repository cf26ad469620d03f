import { describe, expect, it } from 'vitest';
import { CLOSE_CODES as GATEWAY_CLOSE_CODES } from '../../../protocol/src/errors.js';
import { CLOSE_CODES, closeCodeReconnects } from '../src/close-codes.js';

describe('close-code table', () => {
  it('mirrors the gateway table exactly (names, codes, reconnect flags)', () => {
    const gateway = Object.fromEntries(Object.entries(GATEWAY_CLOSE_CODES).map(([name, c]) => [name, { code: c.code, reconnect: c.reconnect }]));
    expect(CLOSE_CODES).toEqual(gateway);
  });

  it('follows the table for the gateway codes', () => {
    for (const c of Object.values(GATEWAY_CLOSE_CODES)) expect(closeCodeReconnects(c.code)).toBe(c.reconnect);
  });

  it('reconnects after a lost link (1006) and unknown codes; not after client-fault codes', () => {
    for (const code of [1005, 1006, 1011, 1012, 1013, 4000, 4999]) expect(closeCodeReconnects(code)).toBe(true);
    for (const code of [1002, 1003, 1007, 1008, 1010]) expect(closeCodeReconnects(code)).toBe(false);
  });
});
