import { describe, expect, it } from 'vitest';
import { ERROR_CODES as GATEWAY_ERROR_CODES } from '../../../protocol/src/errors.js';
import { ERROR_CODES } from '../src/index.js';

describe('err-code table', () => {
  it('mirrors the gateway table exactly (codes and retry flags)', () => {
    const gateway = Object.fromEntries(Object.entries(GATEWAY_ERROR_CODES).map(([code, e]) => [code, { reconnect: e.reconnect }]));
    expect(ERROR_CODES).toEqual(gateway);
  });
});
